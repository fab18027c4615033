import ArgumentParser
import TrialGateCore
import TrialGateService

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the log: an audit bundle (--out DIR), events as canonical JSON lines, FHIR R4 ResearchStudy and ResearchSubject NDJSON, the audit trail as CSV, CDISC ODM 1.3.2 XML, or the SDTM IE domain as CSV or SAS transport (docs/interop.md).")
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "Write the audit bundle (events, checkpoints, decisions with proofs, keys, policies, manifest) into this new directory; with --format odm or sdtm-ie, write that file (sdtm-ie: SAS transport when it ends in .xpt).") var out: String?
    @Option(name: .long, help: "events (default), fhir, audit-csv, odm, sdtm-ie (CSV; SAS transport v5 when --out ends in .xpt) or sdtm-ie-xpt.") var format = "events"
    @Option(name: .long, help: "events: first sequence number.") var from: Int64 = 1
    @Option(name: .long, help: "events: last sequence number; odm, sdtm-ie: the log as of this many events.") var through: Int64?
    @Option(name: .long, help: "fhir, odm, sdtm-ie: only this site.") var site: String?
    @Option(name: .long, help: "audit-csv: only this candidate.") var candidate: String?
    @Flag(name: .long, help: "audit-csv: write a UTF-8 byte order mark first, so that spreadsheets read the file as UTF-8.") var bom = false
    @Option(name: .long, help: "--out: a witness's cosigner vkey (or a file holding vkeys, one a line) the bundle's verifiers should require; repeat for several.") var witness: [String] = []
    @Option(name: .long, help: "--out: how many of the --witness keys must have cosigned the bundle's newest checkpoint (default: all).") var quorum: Int?

    /// The formats `--out` names a file of, not an audit bundle.
    static let fileFormats = ["odm", "sdtm-ie", "sdtm-ie-xpt"]

    func run() throws {
        guard !bom || (out == nil && format == "audit-csv") else {
            throw Runner.fail(TrialGateError(.badRequest, "--bom goes with --format audit-csv, got \(out == nil ? "--format \(format)" : "--out")"))
        }
        // The interoperability formats write their file to --out; every other format's --out is the audit bundle.
        if let out, !Self.fileFormats.contains(format) { return try BundleExport.run(options: options, out: out, witnesses: witness, quorum: quorum) }
        guard witness.isEmpty, quorum == nil else { throw Runner.fail(TrialGateError(.badRequest, "--witness and --quorum go with --out (an audit bundle)")) }
        switch format {
        case "events":
            // Page by page, so memory stays bounded however long the log is, up to the head as it is now.
            let last = try through ?? Runner.view(.head, as: HeadReply.self, options: options).size
            try Runner.forEachPage(from: from, as: ExportReply.self, options: options, total: last, { .export(from: $0, through: last) }) { result, _ in
                for e in result.events { print(CanonicalJSON.string(e)) }
                return result.nextFrom
            }
        case "fhir":
            // NDJSON: the study first, then the subjects that refer to it.
            let result = try Runner.view(.exportFHIR(site: site), as: FHIRExportReply.self, options: options)
            print(CanonicalJSON.string(try JSONValueEncoder().encode(result.study)))
            for r in result.resources { print(CanonicalJSON.string(try JSONValueEncoder().encode(r))) }
        case "audit-csv":
            // Pages go by event seq up to the head (for one candidate too: the pages skip the other events).
            let last = try Runner.view(.head, as: HeadReply.self, options: options).size
            // The byte order mark belongs to the file, not to the socket's reply: written here, once.
            if bom { print("\u{FEFF}", terminator: "") }
            try Runner.forEachPage(from: 1, as: AuditTrailReply.self, options: options, total: last, label: "export audit-csv",
                                   { .auditTrail(candidate: candidate, from: $0) }) { result, page in
                let csv = result.csv
                // Every page carries the header; print it once.
                let body = csv.utf8.firstIndex(of: UInt8(ascii: "\n")).map { String(csv[csv.utf8.index(after: $0)...]) } ?? ""
                print(page == 1 ? csv : body, terminator: "")
                return result.nextFrom
            }
        case "odm": try InteropExport.odm(options: options, site: site, out: out, asOf: through)
        case "sdtm-ie", "sdtm-ie-xpt": try InteropExport.sdtmIE(options: options, site: site, out: out, xpt: format == "sdtm-ie-xpt", asOf: through)
        default:
            throw Runner.fail(TrialGateError(.invalidField, "--format must be events, fhir, audit-csv, odm, sdtm-ie or sdtm-ie-xpt, got \"\(format)\""))
        }
    }
}
