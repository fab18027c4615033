import Foundation
import TrialGateCore
import TrialGateService

/// `export --format odm` and `export --format sdtm-ie`: the interoperability exports (docs/interop.md), read page by
/// page from the store or the server, every page of the log folded up to the size the first page answered.
enum InteropExport {
    /// The ODM 1.3.2 document, to standard output or into `out`.
    /// `asOf`: the log size to export (default: the head).
    static func odm(options: StoreOptions, site: String?, out: String?, asOf: Int64?) throws {
        var through = asOf
        let sink = try out.map(openOutput)
        try Runner.forEachPage(from: 0, as: ODMExportReply.self, options: options, label: "export odm",
                               { .exportODM(through: through, site: site, after: $0) }) { page, _ in
            through = page.logSize
            if let sink {
                do { try sink.write(contentsOf: Data(page.xml.utf8)) } catch {
                    throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write \(out ?? ""): \(error.localizedDescription)"))
                }
            } else {
                print(page.xml, terminator: "")
            }
            return page.nextAfter
        }
        try sink?.close()
    }

    /// The IE domain as CSV (standard output, or `out`) or, when `xpt` is set or `out` ends in `.xpt`, as a SAS
    /// version 5 transport file.
    static func sdtmIE(options: StoreOptions, site: String?, out: String?, xpt: Bool, asOf: Int64?) throws {
        let asXPT = xpt || out?.lowercased().hasSuffix(".xpt") == true
        if asXPT, out == nil { throw Runner.fail(TrialGateError(.badRequest, "--format sdtm-ie-xpt writes a file: give --out FILE.xpt")) }
        var through = asOf
        var records: [IERecord] = []
        var created = UTCTimestamp(millisecondsSinceEpoch: 0)
        try Runner.forEachPage(from: 0, as: SDTMIEReply.self, options: options, label: "export sdtm-ie",
                               { .exportSDTMIE(through: through, site: site, after: $0) }) { page, _ in
            through = page.logSize
            created = UTCTimestamp(page.logTime) ?? created
            records += page.records
            return page.nextAfter
        }
        if asXPT, let out {
            let bytes: [UInt8]
            do { bytes = try SDTMIE.transport(records, created: created) } catch { throw Runner.fail(TrialGateError(error)) }
            try write(Data(bytes), to: out)
        } else {
            let csv = SDTMIE.csv(records)
            if let out { try write(Data(csv.utf8), to: out) } else { print(csv, terminator: "") }
        }
    }

    private static func openOutput(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write \(path)"))
        }
        return h
    }

    private static func write(_ data: Data, to path: String) throws {
        do { try data.write(to: URL(fileURLWithPath: path)) } catch {
            throw Runner.fail(TrialGateError(.fileUnwritable, "cannot write \(path): \(error.localizedDescription)"))
        }
    }
}
