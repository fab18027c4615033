import ArgumentParser
import Foundation
import TrialGateCore
import TrialGateService

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Screening log, CONSORT counts, per-criterion and per-site statistics, corrections — from the log alone.",
        subcommands: [Snapshot.self])
    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "As of a sequence number or a UTC time (2026-01-31T12:00:00Z).") var asOf: String?
    @Option(name: .long, help: "Only candidates of this site.") var site: String?
    @Option(name: .long, help: "Only candidates registered on or after this date (YYYY-MM-DD).") var from: String?
    @Option(name: .long, help: "Only candidates registered on or before this date (YYYY-MM-DD).") var to: String?
    @Option(name: .long, help: "table, csv (the screening log), json, html (self-contained page with SVG charts) or pdf (the page printed by headless Chromium; needs --out).") var format = "table"
    @Option(name: .long, help: "With --format pdf: the PDF file to write (must not exist).") var out: String?

    func run() throws {
        let (seq, time) = try Runner.asOf(asOf)
        func date(_ text: String?, _ name: String) throws -> CivilDate? {
            guard let text else { return nil }
            guard let d = CivilDate(text) else { throw Runner.fail(TrialGateError(.invalidField, "--\(name) must be YYYY-MM-DD, got \"\(text)\"")) }
            return d
        }
        guard ["table", "csv", "json", "html", "pdf"].contains(format) else {
            throw Runner.fail(TrialGateError(.invalidField, "--format must be table, csv, json, html or pdf, got \"\(format)\""))
        }
        guard (format == "pdf") == (out != nil) else {
            throw Runner.fail(TrialGateError(.invalidField, format == "pdf" ? "--format pdf needs --out FILE.pdf" : "--out goes with --format pdf"))
        }
        // Found before the report is computed, so a machine without Chromium says so at once.
        if format == "pdf" { do { _ = try ReportPDF.chromium() } catch { throw Runner.fail(TrialGateError(error)) } }
        let command = Command.report(asOfSeq: seq, asOfTime: time, site: site, from: try date(from, "from"), to: try date(to, "to"),
                                     format: format == "table" ? "json" : format == "pdf" ? "html" : format)
        let reply = try Runner.perform(command, options: options)
        switch format {
        case "csv": print(try Runner.typed(reply, as: ReportCSVReply.self, command: command).csv, terminator: "")
        case "html": print(try Runner.typed(reply, as: ReportHTMLReply.self, command: command).html, terminator: "")
        case "pdf":
            let html = try Runner.typed(reply, as: ReportHTMLReply.self, command: command).html
            do { try ReportPDF.write(html: html, to: out!) } catch { throw Runner.fail(TrialGateError(error)) }
            FileHandle.standardError.write(Data("wrote \(out!)\n".utf8))
        case "json": Runner.printJSON(reply.json)
        default: print(Render.report(try Runner.typed(reply, as: ReportReply.self, command: command)))
        }
    }
}

extension Report {
    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save a snapshot of the report state at the log's head, signed with the trial key: later reports fold on from it.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.view(.reportSnapshot, as: ReportSnapshotReply.self, options: options)
            if options.json { return Runner.printJSON(result) }
            print("report snapshot at event \(result.size) (\(result.candidates) candidates, \(result.bytes) bytes), folded from "
                  + (result.foldedFrom.map { "the snapshot at \($0)" } ?? "the first event"))
            print("kept: " + result.kept.map(String.init).joined(separator: ", "))
            for why in result.ignored { print("ignored: \(why)") }
        }
    }
}

extension Render {
    /// A count or figure as the table shows it: "-" when the report has none (a site's rate with nothing decided is
    /// shown as the report carries it, null).
    private static func n(_ v: Int?) -> String { v.map(String.init) ?? "-" }
    private static func n(_ v: Int64) -> String { String(v) }
    private static func n(_ v: Double?) -> String {
        guard let v else { return "-" }
        return JSONValue.number(v).intValue.map(String.init) ?? CanonicalJSON.string(.number(v))
    }

    static func report(_ r: ReportReply) -> String {
        let c = r.consort
        var lines = ["Screening report for \(r.trialID ?? "?") on \(n(r.logSize)) events"]
        for p in r.policies {
            lines.append("Policy \(p.id) \(p.version) in force from \(p.inForceFrom)" + (p.inForceUntil.map { " until \($0)" } ?? "") + " (event \(n(p.seq)))")
        }
        lines.append("")
        lines.append("Assessed for eligibility      \(n(c.assessed))")
        lines.append("  Excluded                    \(n(c.excluded.total))")
        lines.append("    not meeting criteria      \(n(c.excluded.notMeetingCriteria))")
        for (id, count) in c.excluded.byCriterion.sorted(by: { $0.key < $1.key }) { lines.append("      \(pad(id, 24)) \(n(count))") }
        lines.append("    withdrawn                 \(n(c.excluded.withdrawn))")
        lines.append("  Needs review                \(n(c.needsReview))")
        lines.append("  Stale (decide again)        \(n(c.stale))")
        lines.append("  Pending (no decision yet)   \(n(c.pending))")
        lines.append("  Eligible (proposed)         \(n(c.eligible))")
        lines.append("Confirmed by an investigator: \(n(c.confirmed.eligible)) eligible, \(n(c.confirmed.ineligible)) ineligible; \(n(c.awaitingSignoff)) current decisions await sign-off")
        lines += flowLines(c.flow)
        lines.append("")
        lines += sitesTable(r.sites)
        lines.append("")
        lines.append("\(pad("criterion", 28)) \(pad("pass", 6)) \(pad("fail", 6)) \(pad("unknown", 8)) \(pad("attest", 7)) skipped")
        for k in r.criteria {
            lines.append("\(pad(k.id, 28)) \(pad(n(k.pass), 6)) \(pad(n(k.fail), 6)) \(pad(n(k.unknown), 8)) \(pad(n(k.needsAttestation), 7)) \(n(k.skipped))")
        }
        let t = r.timeToDecision
        lines.append("")
        lines.append("Time from registration to first decision: median \(n(t.medianDays)) days, mean \(n(t.meanDays)), max \(n(t.maxDays)) (\(n(t.count)) candidates)")
        lines += correctionLines(r.corrections)
        lines.append("")
        lines.append("\(pad("candidate", 12)) \(pad("site", 9)) \(pad("status", 13)) \(pad("signature", 10)) failed / unknown")
        for row in r.screeningLog {
            let why = (row.failed.map { "✗ \($0)" } + row.unknown.map { "? \($0)" } + row.needsAttestation.map { "? \($0) (attestation)" }).joined(separator: " ")
            lines.append("\(pad(row.candidate, 12)) \(pad(row.site, 9)) \(pad(row.status, 13)) \(pad(row.signature, 10)) \(why)")
        }
        return lines.joined(separator: "\n")
    }

    /// The CONSORT flow: each terminal box and its count, withdrawals by category where they happened.
    private static func flowLines(_ f: ReportFlow) -> [String] {
        func withdrawn(_ w: ReportFlow.Withdrawn) -> String {
            w.byCategory.sorted { $0.key < $1.key }.map { "\($0.key) \(n($0.value))" }.joined(separator: ", ")
        }
        return ["", "CONSORT flow: assessed \(n(f.assessed))",
                "  excluded (not meeting criteria) \(n(f.excluded.total)); \(n(f.excluded.failedMoreThanOne)) failed more than one criterion",
                "  not yet decided \(n(f.undecided.total)) (no decision \(n(f.undecided.noDecision)), needs review \(n(f.undecided.needsReview)), stale \(n(f.undecided.stale)))",
                "  withdrawn during assessment \(n(f.withdrawnBeforeEligible.total))" + (f.withdrawnBeforeEligible.total > 0 ? " (\(withdrawn(f.withdrawnBeforeEligible)))" : ""),
                "  found eligible \(n(f.eligible)): withdrawn after \(n(f.withdrawnAfterEligible.total))"
                    + (f.withdrawnAfterEligible.total > 0 ? " (\(withdrawn(f.withdrawnAfterEligible)))" : "")
                    + ", awaiting sign-off \(n(f.awaitingSignoff)), overridden to ineligible \(n(f.overriddenIneligible)), confirmed eligible \(n(f.confirmedEligible))"]
    }

    private static func sitesTable(_ sites: [ReportSiteRow]) -> [String] {
        var lines = ["\(pad("site", 10)) \(pad("assessed", 9)) \(pad("eligible", 9)) \(pad("inelig.", 8)) \(pad("review", 7)) \(pad("stale", 6)) \(pad("withdr.", 8)) \(pad("confirmed", 10)) \(pad("queries", 16)) screen-failure rate"]
        for s in sites {
            let confirmed = "\(n(s.confirmedEligible))+\(n(s.confirmedIneligible))"
            let queries = "\(n(s.queries.open))/\(n(s.queries.answered))/\(n(s.queries.closed))"
            lines.append("\(pad(s.site, 10)) \(pad(n(s.assessed), 9)) \(pad(n(s.eligible), 9)) \(pad(n(s.ineligible), 8)) \(pad(n(s.needsReview), 7)) \(pad(n(s.stale), 6)) \(pad(n(s.withdrawn), 8)) \(pad(confirmed, 10)) \(pad(queries, 16)) \(s.screenFailureRate.map { n($0) } ?? "null")")
        }
        lines.append("(confirmed: eligible+ineligible by an investigator; queries: open/answered/closed)")
        return lines
    }

    private static func correctionLines(_ k: ReportReply.Corrections) -> [String] {
        let byActor = k.byActor.sorted { $0.key < $1.key }.map { "\($0.key) \(n($0.value))" }.joined(separator: ", ")
        var lines = ["Corrections: \(n(k.count))" + (byActor.isEmpty ? "" : " (\(byActor))")]
        for item in k.items {
            lines.append("  #\(n(item.seq)) \(item.candidate) \(item.field): \(value(item.oldValue)) → \(value(item.newValue)) by \(item.actor) — \(item.reason)")
        }
        return lines
    }
}
