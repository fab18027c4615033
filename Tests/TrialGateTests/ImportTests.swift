import Foundation
import Testing
import TrialGateAudit
@testable import TrialGateCore
@testable import TrialGateService
import TrialGateStore

private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite("import: a site's CSV file, all rows or none")
struct ImportTests {
    static let header = "kind,candidate,site,consent_date,specimen_date,primary_organ,tumour_type,differentiation,review,percent,method,assessed_on,age,ecog,prior_systemic_therapies,anc,haemoglobin,bilirubin"

    /// Two candidates of SITE-01, each registered with a pathology, a Ki-67 and a clinical record (the fixture's clock is 2026-07-01).
    static let good = """
        \(header)\r
        register,NET-101,SITE-01,2026-06-10,,,,,,,,,,,,,,\r
        pathology,NET-101,,,2026-04-02,C17.2,NET,well,central,,,,,,,,,\r
        ki67,NET-101,SITE-01,,2026-04-02,,,,,8,manual_count,,,,,,,\r
        clinical,NET-101,,,,,,,,,,2026-06-25,61,1,somatostatin_analogue;prrt,2 10*9/L,12.4 g/dL,0.8 {ULN}\r
        register,NET-102,SITE-01,,,,,,,,,,,,,,,\r
        ki67,NET-102,,,2026-05-01,,,,,"12.5",digital_image_analysis,,,,,,,\r
        clinical,NET-102,,,,,,,,,,2026-06-26,70,0,"[""chemotherapy""]",3.1 10*9/L,131 g/L,0.5 {ULN}\r

        """

    private func fixture() throws -> Fixture {
        let f = try Fixture(policy: try String(contentsOfFile: repoRoot + "/Policies/sanet-ep.yaml", encoding: .utf8))
        try f.run(.register(candidate: "OTHER-01", fields: ["site": "SITE-02"]))
        return f
    }

    private func importing(_ text: String, dryRun: Bool, site: String? = nil) -> Command {
        .importRecords(file: "site-01.csv", content: Array(text.utf8), site: site, dryRun: dryRun)
    }

    @Test("the dry run checks every row and writes nothing; the import appends every row and a records.imported event with the file's SHA-256, in one commit")
    func dryRunThenImport() throws {
        let f = try fixture()
        let before = try f.store.head()
        let dry = try #require(try f.dispatcher.perform(importing(Self.good, dryRun: true), actor: "carla").decode(ImportReply.self))
        #expect(dry.problems == [] && !dry.written && dry.rows == 7 && dry.kinds == ["register": 2, "pathology": 1, "ki67": 2, "clinical": 2])
        #expect(try f.store.head() == before)
        let checkpoints = try f.store.checkpoints().count
        let done = try f.dispatcher.perform(importing(Self.good, dryRun: false), actor: "carla").decode(ImportReply.self)
        #expect(done.written && done.problems.isEmpty)
        #expect(done.firstSeq == before.size + 1 && done.lastSeq == before.size + 7 && done.seq == before.size + 8)
        let events = try f.store.events().filter { $0.seq > before.size }
        #expect(events.map(\.type) == [.candidateRegistered, .candidateRegistered, .pathologyRecorded, .ki67Recorded, .clinicalRecorded, .ki67Recorded, .clinicalRecorded, .recordsImported])
        #expect(events.allSatisfy { $0.actor == "carla" })
        let receipt = try RecordsImported(payloadOf: events.last!)
        #expect(receipt == RecordsImported(file: "site-01.csv", sha256: Digest.sha256Hex(Array(Self.good.utf8)), rows: 7,
                                           firstSeq: before.size + 1, lastSeq: before.size + 7))
        // One commit, one checkpoint, covering the whole import.
        #expect(try f.store.latestCheckpoint()?.size == before.size + 8 && f.store.checkpoints().count == checkpoints + 1)
        let verify = try f.dispatcher.perform(.verify(), actor: "auditor").decode(VerifyReply.self)
        #expect(verify.valid)
        // The same bytes again are refused as a whole, and nothing moves.
        #expect(throws: TrialGateError(.importRefused, "")) { try f.run(importing(Self.good, dryRun: false)) }
        #expect(try f.store.head().size == before.size + 8)
    }

    @Test("each imported row's payload is byte for byte what register and record write for the same text")
    func payloadsAreTheCommandLines() throws {
        let imported = try fixture(), typed = try fixture()
        try imported.run(importing(Self.good, dryRun: false))
        // What `trialgate candidate register` and `trialgate record KIND name=value…` send for the same values.
        let table = try CSVTable.read(Array(Self.good.utf8))
        for row in table.rows {
            var fields: [String: JSONValue] = [:]
            for (name, cell) in zip(table.header, row.fields) where !cell.isEmpty && !["kind", "candidate", "site"].contains(name) {
                fields[name] = FieldText.value(cell.contains(";") ? "[\"" + cell.split(separator: ";").joined(separator: "\",\"") + "\"]" : cell)
            }
            if row.fields[0] == "register" {
                try typed.run(.register(candidate: row.fields[1], fields: .object(fields.merging(["site": .string(row.fields[2])]) { a, _ in a })))
            } else {
                try typed.run(.record(kind: row.fields[0], candidate: row.fields[1], fields: .object(fields)))
            }
        }
        func payloads(_ f: Fixture) throws -> [String: [[UInt8]]] {
            Dictionary(grouping: try f.store.events().filter { $0.candidate?.hasPrefix("NET-1") == true }) { "\($0.candidate!) \($0.type.rawValue)" }
                .mapValues { $0.map { CanonicalJSON.encode($0.payload) } }
        }
        let a = try payloads(imported), b = try payloads(typed)
        #expect(a.count == 7 && a == b)
    }

    /// A bad file of each kind the issue names, and where the refusal must point.
    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let row: Int
        let column: String
        var testDescription: String { name }
    }

    static let bad: [Bad] = {
        // The file ends in a blank line (row 9): a row added after it is row 10, as a spreadsheet numbers it.
        let lines = good.components(separatedBy: "\r\n")
        func text(_ ls: [String]) -> [UInt8] { Array(ls.joined(separator: "\r\n").utf8) }
        var latin1 = text(lines)
        let at = latin1.firstIndex(of: UInt8(ascii: "{"))!  // in row 5's bilirubin
        latin1.insert(0xE9, at: at)
        var noMethod = lines.map { $0.components(separatedBy: ",") }
        for i in noMethod.indices where noMethod[i].count > 10 { noMethod[i].remove(at: 10) }
        var unit = lines
        unit[4] = unit[4].replacingOccurrences(of: "12.4 g/dL", with: "12.4 %")
        var future = lines
        future[3] = future[3].replacingOccurrences(of: "2026-04-02", with: "2026-08-02")
        var unknown = lines
        unknown[0] = unknown[0].replacingOccurrences(of: "bilirubin", with: "bilirubine")
        return [
            Bad(name: "a Latin-1 byte", bytes: latin1, row: 5, column: ""),
            Bad(name: "a missing column", bytes: text(noMethod.map { $0.joined(separator: ",") }), row: 1, column: "method"),
            Bad(name: "a duplicate row", bytes: text(Array(lines[0...3]) + [lines[3]] + Array(lines[4...])), row: 5, column: ""),
            Bad(name: "a row for another site's candidate", bytes: text(lines + ["ki67,OTHER-01,,,2026-04-02,,,,,8,manual_count,,,,,,,"]), row: 10, column: "candidate"),
            Bad(name: "a lab value in a unit it is never given in", bytes: text(unit), row: 5, column: "haemoglobin"),
            Bad(name: "a date after today", bytes: text(future), row: 4, column: "specimen_date"),
            Bad(name: "an unknown column", bytes: text(unknown), row: 1, column: "bilirubine"),
            Bad(name: "a record of a candidate nobody registered", bytes: text(lines + ["ki67,NET-999,,,2026-04-02,,,,,8,manual_count,,,,,,,"]), row: 10, column: "candidate"),
            // Hostile layouts: each refused where it is, never read as something else.
            Bad(name: "a byte order mark in the middle of the file", bytes: text(Array(lines[0...4]) + ["\u{FEFF}" + lines[5]] + Array(lines[6...])), row: 6, column: "kind"),
            Bad(name: "a NUL byte in a cell", bytes: text(Array(lines[0...2]) + [lines[3].replacingOccurrences(of: "NET-101", with: "NET-101\u{0}")] + Array(lines[4...])),
                row: 4, column: "candidate"),
            Bad(name: "a quote never closed (the rest of the file in one cell)", bytes: text(lines + ["ki67,\"NET-101,,,2026-04-02,,,,,8,manual_count,,,,,,,", "register,NET-103,SITE-01"]),
                row: 10, column: ""),
            Bad(name: "a column named twice", bytes: text([lines[0] + ",site"] + lines.dropFirst().map { $0.isEmpty ? $0 : $0 + "," }), row: 1, column: "site"),
            Bad(name: "a header in other letter case", bytes: text([lines[0].replacingOccurrences(of: "kind,", with: "Kind,")] + lines.dropFirst()), row: 1, column: "kind"),
        ]
    }()

    @Test("a bad file is refused naming the row and column, and the log's head does not move", arguments: bad)
    func badFileIsRefused(_ bad: Bad) throws {
        let f = try fixture()
        let before = try f.store.head()
        let carla = Principal(name: "carla", role: .coordinator, sites: ["SITE-01"])
        let dry = try JSONValueDecoder(context: "reply").decode(ImportReply.self, from: try f.dispatcher.execute(
            .importRecords(file: "bad.csv", content: bad.bytes, site: nil, dryRun: true), principal: carla))
        #expect(dry.problems.contains { $0.row == bad.row && $0.column == bad.column }, "\(dry.problems.map(\.line))")
        #expect(!dry.written)
        do {
            _ = try f.dispatcher.execute(.importRecords(file: "bad.csv", content: bad.bytes, site: nil, dryRun: false), principal: carla)
            Issue.record("\(bad.name) was imported")
        } catch {
            let e = TrialGateError(error)
            #expect(e.code == .importRefused)
            let place = bad.column.isEmpty ? "row \(bad.row):" : "row \(bad.row), column \(bad.column):"
            #expect(e.message.contains(place), "\(e.message)")
        }
        #expect(try f.store.head() == before)
    }

    @Test("the import's site option and a coordinator's sites hold every row: a registration elsewhere is refused at its site column")
    func siteScope() throws {
        let f = try fixture()
        let other = Self.good.replacingOccurrences(of: "register,NET-102,SITE-01", with: "register,NET-102,SITE-02")
        let reply = try f.dispatcher.perform(importing(other, dryRun: true, site: "SITE-01"), actor: "os:host").decode(ImportReply.self)
        #expect(reply.problems.contains { $0.row == 6 && $0.column == "site" && $0.value == "SITE-02" })
        // Without --site the host's command line may import for any site.
        #expect(try f.dispatcher.perform(importing(other, dryRun: true), actor: "os:host").decode(ImportReply.self).problems == [])
        // A monitor may not import at all; a coordinator may not name another site.
        for role in Role.allCases where role != .coordinator {
            let someone = Principal(name: "mona", role: role, sites: ["SITE-01"])
            #expect(throws: TrialGateError(.forbidden, ""), "\(role)") { try f.dispatcher.execute(importing(Self.good, dryRun: true), principal: someone) }
        }
        let carla = Principal(name: "carla", role: .coordinator, sites: ["SITE-01"])
        #expect(throws: TrialGateError(.forbidden, "")) { try f.dispatcher.execute(importing(Self.good, dryRun: true, site: "SITE-02"), principal: carla) }
    }

    @Test("inside the server's group commit a dry run and a refused file leave the batch as they found it; a good file lands with it")
    func insideABatch() throws {
        let f = try fixture()
        let before = try f.store.head().size
        let refused = Self.good.replacingOccurrences(of: "12.4 g/dL", with: "12.4 %")
        let results = try f.dispatcher.executeBatch([
            (command: .register(candidate: "NET-200", fields: ["site": "SITE-01"]), actor: "carla"),
            (command: importing(Self.good, dryRun: true), actor: "carla"),
            (command: importing(refused, dryRun: false), actor: "carla"),
            (command: .register(candidate: "NET-201", fields: ["site": "SITE-01"]), actor: "carla"),
        ])
        #expect(results.map { if case .success = $0 { true } else { false } } == [true, true, false, true])
        let events = try f.store.events().filter { $0.seq > before }
        #expect(events.map(\.candidate) == ["NET-200", "NET-201"])
        let batch = try f.dispatcher.executeBatch([(command: importing(Self.good, dryRun: false), actor: "carla")])
        #expect(try batch[0].get()["written"] == true && f.store.head().size == before + 2 + 8)
    }

    @Test("a field that holds text takes a cell that looks like a number as text; a number field keeps its number")
    func textFieldsTakeText() throws {
        let f = try fixture()
        let file = """
            kind,candidate,site,model,version,artifact_sha256,score,predicts,study_date
            register,7,7,,,,,,
            model-score,7,,net-ct-radiomics,2.1,\(String(repeating: "ab", count: 32)),0.81,true,2026-06-20

            """
        let reply = try f.dispatcher.perform(importing(file, dryRun: false), actor: "carla").decode(ImportReply.self)
        #expect(reply.written, "\(reply.problems.map(\.line))")
        let events = try f.store.events(candidate: "7")
        #expect(events[0].payload == ["site": "7"])
        #expect(events[1].payload["version"] == "2.1" && events[1].payload["predicts"] == "true" && events[1].payload["score"] == 0.81)
    }

    @Test("the socket's import request carries the file in base64 and reads as the command line's command")
    func request() throws {
        let bytes: [UInt8] = Array(Self.good.utf8)
        let command = try Command.parse(["cmd": "import", "file": "s.csv", "content_base64": .string(Data(bytes).base64EncodedString()), "dry_run": true])
        #expect(command == .importRecords(file: "s.csv", content: bytes, site: nil, dryRun: true))
        #expect(throws: TrialGateError(.invalidField, "")) { try Command.parse(["cmd": "import", "content_base64": "not base64!"]) }
    }

    @Test("CSV: a BOM is skipped, quoted fields keep commas, quotes and line breaks, rows keep their spreadsheet numbers")
    func csv() throws {
        let table = try CSVTable.read([0xEF, 0xBB, 0xBF] + Array("a,b\r\n\"x, \"\"y\"\"\",\"two\nlines\"\n\n1,2".utf8))
        #expect(table.header == ["a", "b"])
        #expect(table.rows == [.init(number: 2, line: 2, fields: ["x, \"y\"", "two\nlines"]), .init(number: 4, line: 5, fields: ["1", "2"])])
        #expect(throws: ImportProblems.self) { try CSVTable.read(Array("a\n\"open".utf8)) }
        let overlong = CSVTable.encodingProblems([0x61, 0x0A, 0xC0, 0xAF], from: 0)
        #expect(overlong.first?.row == 2 && overlong.first?.value.contains("byte offset 2") == true)
    }

    @Test("a records.imported event must end right before itself: a receipt that names other events does not replay")
    func receiptRule() throws {
        let f = try fixture()
        try f.run(importing(Self.good, dryRun: false))
        let forged = try f.forgedCopy { event, draft in
            if event.type == .recordsImported { draft.payload = RecordsImported(file: "x.csv", sha256: String(repeating: "a", count: 64), rows: 7, firstSeq: 1, lastSeq: 3).payload }
        }
        var state = LogState()
        #expect(throws: TrialGateError(.invalidEvent, "")) { for e in try forged.events() { try state.apply(e) } }
    }

    @Test("the same rows in other bytes (saved again with LF line ends, or a byte order mark) are refused: each record names the event it repeats")
    func sameRowsOtherBytes() throws {
        let f = try fixture()
        try f.run(importing(Self.good, dryRun: false))
        let before = try f.store.head()
        let records = Self.good.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("register,") }.joined(separator: "\n")
        for again in [records, "\u{FEFF}" + records] {
            let reply = try f.dispatcher.perform(.importRecords(file: "resaved.csv", content: Array(again.utf8), site: nil, dryRun: true), actor: "carla")
                .decode(ImportReply.self)
            #expect(reply.rows == 5 && reply.problems.count == 5, "\(reply.problems.map(\.line))")
            #expect(reply.problems.allSatisfy { $0.expected.contains("has this same") && $0.expected.contains("was this file imported before?") })
            #expect(throws: TrialGateError(.importRefused, "")) {
                try f.dispatcher.perform(.importRecords(file: "resaved.csv", content: Array(again.utf8), site: nil, dryRun: false), actor: "carla")
            }
        }
        #expect(try f.store.head() == before)
        // A record with another value is a new record, and goes in.
        let newer = records.replacingOccurrences(of: ",8,manual_count", with: ",9,manual_count")
        let reply = try f.dispatcher.perform(.importRecords(file: "newer.csv", content: Array(newer.utf8), site: nil, dryRun: true), actor: "carla").decode(ImportReply.self)
        #expect(reply.problems.count == 4, "\(reply.problems.map(\.line))")
    }

    @Test("a cell of a megabyte, or a header of 5,000 unknown names, gives a short list: values cut at 200 characters, the first 1,000 names")
    func hugeCellsAndHeaders() throws {
        let f = try fixture()
        let long = String(repeating: "A", count: 1_000_000)
        let cells = "kind,candidate,site\nregister,\(long),SITE-01\nregister,B\(long),\(long)\n"
        let reply = try f.dispatcher.perform(.importRecords(file: "long.csv", content: Array(cells.utf8), site: nil, dryRun: true), actor: "carla")
            .decode(ImportReply.self)
        #expect(!reply.problems.isEmpty && reply.problems.allSatisfy { $0.value.count < 240 && $0.column.count < 240 && $0.expected.count < 2100 },
                "\(reply.problems.map { $0.line.count })")
        #expect(reply.problems.contains { $0.value.hasSuffix("… (1000000 characters)") })
        let wide = (0..<5000).map { "c\($0)" }.joined(separator: ",") + "\n"
        let header = try f.dispatcher.perform(.importRecords(file: "wide.csv", content: Array(wide.utf8), site: nil, dryRun: true), actor: "carla")
            .decode(ImportReply.self)
        #expect(header.problems.filter { $0.row == 1 && $0.column.hasPrefix("c") && $0.column != "candidate" }.count == 1000)
        #expect(header.problems.contains { $0.value == "5000 unknown column names" })
    }

    @Test("a problem line shows control, bidi and separator characters of the file escaped, so a hostile file cannot drive the terminal")
    func problemLinesAreInert() throws {
        let f = try fixture()
        let file = "kind,candidate,site\nregister,X\u{1B}[2J\u{1B}]0;pwned\u{07}\u{202E},SITE-01\u{2028}row 9: fine\n"
        let reply = try f.dispatcher.perform(.importRecords(file: "esc.csv", content: Array(file.utf8), site: nil, dryRun: true), actor: "carla")
            .decode(ImportReply.self)
        #expect(reply.problems.contains { $0.value.contains("\u{1B}") }, "the reply keeps the value as found")
        for line in reply.problems.map(\.line) {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\u{202E}" || $0 == "\u{2028}" }, "\(line)")
        }
        #expect(reply.problems.map(\.line).joined().contains("X\\u{1B}[2J\\u{1B}]0;pwned\\u{7}\\u{202E}"))
        do {
            _ = try f.dispatcher.perform(.importRecords(file: "esc.csv", content: Array(file.utf8), site: nil, dryRun: false), actor: "carla")
            Issue.record("imported")
        } catch {
            #expect(!TrialGateError(error).message.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 })
        }
    }

    /// A log with two imports by carla: the good file, then (after a decision of NET-101) a Ki-67 that makes it
    /// stale, so that the second import's range holds the review query its record opened.
    private func importedTwice() throws -> Fixture {
        let f = try fixture()
        try f.run(importing(Self.good, dryRun: false))
        try f.run(.decide(candidate: "NET-101"))
        let later = "\(Self.header)\r\nki67,NET-101,,,2026-06-20,,,,,9,manual_count,,,,,,,\r\n"
        let stale = try f.dispatcher.perform(.importRecords(file: "later.csv", content: Array(later.utf8), site: nil, dryRun: false), actor: "carla")
            .decode(ImportReply.self)
        #expect(try f.store.events().filter { $0.seq >= stale.firstSeq! && $0.seq <= stale.lastSeq! }.map(\.type) == [.ki67Recorded, .queryOpened])
        return f
    }

    /// The problems `verify` reports at the first receipt of a copy of `importedTwice()` with `change` made to it.
    private func receiptProblems(_ change: @escaping (Event, inout EventDraft) -> Void) throws -> [String] {
        let f = try importedTwice()
        let receipt = try f.store.events(types: [.recordsImported])[0].seq
        let forged = try f.forgedCopy { event, draft in if event.type == .recordsImported { change(event, &draft) } }
        let reply = try Dispatcher(store: forged, clock: f.clock, key: { f.key }).perform(.verify(), actor: "regulator").decode(VerifyReply.self)
        return reply.problems.filter { $0.seq == receipt }.map(\.code)
    }

    private func payload(_ change: @escaping (RecordsImported) -> RecordsImported) -> (Event, inout EventDraft) -> Void {
        { event, draft in draft.payload = change(try! RecordsImported(payloadOf: event)).payload }
    }

    @Test("verify refuses a receipt that lies about the events it names: the trial's own events, another number of rows, another actor")
    func lyingReceiptFailsVerify() throws {
        // Honest imports verify, the one whose record opened a stale query included.
        let f = try importedTwice()
        let verdict = try f.dispatcher.perform(.verify(), actor: "regulator").decode(VerifyReply.self)
        #expect(verdict.valid && verdict.problems.isEmpty, "\(verdict.problems)")
        #expect(try receiptProblems { _, _ in } == [])
        // Claims every event of the log before it, the trial's initialisation and policy included, as imported rows.
        #expect(try receiptProblems(payload { RecordsImported(file: $0.file, sha256: $0.sha256, rows: Int($0.lastSeq), firstSeq: 1, lastSeq: $0.lastSeq) })
                == ["import_receipt"])
        // One row fewer than the registrations and records it names: each row is one.
        #expect(try receiptProblems(payload { RecordsImported(file: $0.file, sha256: $0.sha256, rows: $0.rows - 1, firstSeq: $0.firstSeq, lastSeq: $0.lastSeq) })
                == ["import_receipt"])
        // Another actor's receipt for the importer's rows.
        #expect(try receiptProblems { _, draft in draft.actor = "mallory" } == ["import_receipt"])
    }
}
