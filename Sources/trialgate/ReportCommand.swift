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
    @Option(name: .long, help: "table, csv (the screening log), json or html (self-contained page with SVG charts).") var format = "table"

    func run() throws {
        let (seq, time) = try Runner.asOf(asOf)
        func date(_ text: String?, _ name: String) throws -> CivilDate? {
            guard let text else { return nil }
            guard let d = CivilDate(text) else { throw Runner.fail(TrialGateError(.invalidField, "--\(name) must be YYYY-MM-DD, got \"\(text)\"")) }
            return d
        }
        guard ["table", "csv", "json", "html"].contains(format) else {
            throw Runner.fail(TrialGateError(.invalidField, "--format must be table, csv, json or html"))
        }
        let result = try Runner.run(.report(asOfSeq: seq, asOfTime: time, site: site, from: try date(from, "from"), to: try date(to, "to"),
                                            format: format == "table" ? "json" : format), options: options)
        switch format {
        case "csv": print(result["csv"]?.stringValue ?? "", terminator: "")
        case "html": print(result["html"]?.stringValue ?? "", terminator: "")
        case "json": Runner.printJSON(result)
        default: print(Render.report(result))
        }
    }
}

extension Report {
    struct Snapshot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save a snapshot of the report state at the log's head, signed with the trial key: later reports fold on from it.")
        @OptionGroup var options: StoreOptions

        func run() throws {
            let result = try Runner.run(.reportSnapshot, options: options)
            if options.json { return Runner.printJSON(result) }
            print("report snapshot at event \(result["size"]?.intValue ?? 0) (\(result["candidates"]?.intValue ?? 0) candidates, "
                  + "\(result["bytes"]?.intValue ?? 0) bytes), folded from "
                  + (result["folded_from"]?.intValue.map { "the snapshot at \($0)" } ?? "the first event"))
            print("kept: " + (result["kept"]?.arrayValue ?? []).compactMap { $0.intValue.map(String.init) }.joined(separator: ", "))
            for why in result["ignored"]?.arrayValue ?? [] { print("ignored: \(why.stringValue ?? "")") }
        }
    }
}

extension Render {
    static func report(_ r: JSONValue) -> String {
        func n(_ v: JSONValue?) -> String { v?.intValue.map(String.init) ?? (v.map { CanonicalJSON.string($0) } ?? "-") }
        let c = r["consort"] ?? .null
        var lines = ["Screening report for \(r["trial_id"]?.stringValue ?? "?") on \(n(r["log_size"])) events"]
        for p in r["policies"]?.arrayValue ?? [] {
            lines.append("Policy \(p["id"]?.stringValue ?? "") \(p["version"]?.stringValue ?? "") in force from \(p["in_force_from"]?.stringValue ?? "")"
                + (p["in_force_until"]?.stringValue.map { " until \($0)" } ?? "") + " (event \(n(p["seq"])))")
        }
        lines.append("")
        lines.append("Assessed for eligibility      \(n(c["assessed"]))")
        lines.append("  Excluded                    \(n(c["excluded"]?["total"]))")
        lines.append("    not meeting criteria      \(n(c["excluded"]?["not_meeting_criteria"]))")
        for (id, count) in (c["excluded"]?["by_criterion"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            lines.append("      \(pad(id, 24)) \(n(count))")
        }
        lines.append("    withdrawn                 \(n(c["excluded"]?["withdrawn"]))")
        lines.append("  Needs review                \(n(c["needs_review"]))")
        lines.append("  Stale (decide again)        \(n(c["stale"]))")
        lines.append("  Pending (no decision yet)   \(n(c["pending"]))")
        lines.append("  Eligible (proposed)         \(n(c["eligible"]))")
        lines.append("Confirmed by an investigator: \(n(c["confirmed"]?["eligible"])) eligible, \(n(c["confirmed"]?["ineligible"])) ineligible; \(n(c["awaiting_signoff"])) current decisions await sign-off")
        lines.append("")
        lines.append("\(pad("site", 10)) \(pad("assessed", 9)) \(pad("eligible", 9)) \(pad("inelig.", 8)) \(pad("review", 7)) \(pad("stale", 6)) \(pad("withdr.", 8)) \(pad("confirmed", 10)) \(pad("queries", 16)) screen-failure rate")
        for s in r["sites"]?.arrayValue ?? [] {
            let confirmed = "\(n(s["confirmed_eligible"]))+\(n(s["confirmed_ineligible"]))"
            let queries = "\(n(s["queries"]?["open"]))/\(n(s["queries"]?["answered"]))/\(n(s["queries"]?["closed"]))"
            lines.append("\(pad(s["site"]?.stringValue ?? "", 10)) \(pad(n(s["assessed"]), 9)) \(pad(n(s["eligible"]), 9)) \(pad(n(s["ineligible"]), 8)) \(pad(n(s["needs_review"]), 7)) \(pad(n(s["stale"]), 6)) \(pad(n(s["withdrawn"]), 8)) \(pad(confirmed, 10)) \(pad(queries, 16)) \(n(s["screen_failure_rate"]))")
        }
        lines.append("(confirmed: eligible+ineligible by an investigator; queries: open/answered/closed)")
        lines.append("")
        lines.append("\(pad("criterion", 28)) \(pad("pass", 6)) \(pad("fail", 6)) \(pad("unknown", 8)) \(pad("attest", 7)) skipped")
        for k in r["criteria"]?.arrayValue ?? [] {
            lines.append("\(pad(k["id"]?.stringValue ?? "", 28)) \(pad(n(k["pass"]), 6)) \(pad(n(k["fail"]), 6)) \(pad(n(k["unknown"]), 8)) \(pad(n(k["needs_attestation"]), 7)) \(n(k["skipped"]))")
        }
        let t = r["time_to_decision"] ?? .null
        lines.append("")
        lines.append("Time from registration to first decision: median \(n(t["median_days"])) days, mean \(n(t["mean_days"])), max \(n(t["max_days"])) (\(n(t["count"])) candidates)")
        let k = r["corrections"] ?? .null
        let byActor = (k["by_actor"]?.objectValue ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key) \(n($0.value))" }.joined(separator: ", ")
        lines.append("Corrections: \(n(k["count"]))" + (byActor.isEmpty ? "" : " (\(byActor))"))
        for item in k["items"]?.arrayValue ?? [] {
            lines.append("  #\(n(item["seq"])) \(item["candidate"]?.stringValue ?? "") \(item["field"]?.stringValue ?? ""): \(CanonicalJSON.string(item["old_value"] ?? .null)) → \(CanonicalJSON.string(item["new_value"] ?? .null)) by \(item["actor"]?.stringValue ?? "") — \(item["reason"]?.stringValue ?? "")")
        }
        lines.append("")
        lines.append("\(pad("candidate", 12)) \(pad("site", 9)) \(pad("status", 13)) \(pad("signature", 10)) failed / unknown")
        for row in r["screening_log"]?.arrayValue ?? [] {
            let why = ((row["failed"]?.arrayValue ?? []).compactMap(\.stringValue).map { "✗ \($0)" }
                + (row["unknown"]?.arrayValue ?? []).compactMap(\.stringValue).map { "? \($0)" }
                + (row["needs_attestation"]?.arrayValue ?? []).compactMap(\.stringValue).map { "? \($0) (attestation)" }).joined(separator: " ")
            lines.append("\(pad(row["candidate"]?.stringValue ?? "", 12)) \(pad(row["site"]?.stringValue ?? "", 9)) \(pad(row["status"]?.stringValue ?? "", 13)) \(pad(row["signature"]?.stringValue ?? "", 10)) \(why)")
        }
        return lines.joined(separator: "\n")
    }
}
