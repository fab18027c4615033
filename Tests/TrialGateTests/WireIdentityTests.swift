import Foundation
import Logging
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
import TrialGateServer
import TrialGateService
import TrialGateStore

/// The stored bytes and the wire replies of a fixed scene, compared byte for byte with a transcript recorded by an
/// earlier build (`Fixtures/wire/transcript.txt`). A refactoring that changes one stored byte, one signature or one
/// reply (its code, its message, the order of its keys) fails here and shows the first line that differs.
///
/// The scene is the demo (both trials' SANET-ep candidates, investigators, attestations and sign-offs) on a fixed
/// clock and key, then requests through the `exec` path (`Dispatcher.handle(line:actor:)`) and through a served
/// connection's path (`ProtocolSession`): reads, writes, every listing, the report in its three formats, FHIR,
/// proofs, verify and replay, and the refusals a client can meet (bad JSON, unknown command, missing and invalid
/// fields, before authentication, outside the role, outside the site, a line too long, `init` over the socket).
@Suite struct WireIdentityTests {
    static let tokens: [(name: String, role: String, sites: [String], token: String)] = [
        ("wire-coordinator", "coordinator", ["SITE-01"], String(repeating: "c1", count: 32)),
        ("wire-sponsor", "sponsor", [], String(repeating: "5b", count: 32)),
        ("wire-regulator", "regulator", [], String(repeating: "7e", count: 32)),
        ("wire-monitor", "monitor", ["SITE-02"], String(repeating: "40", count: 32)),
        ("wire-admin", "admin", [], String(repeating: "ad", count: 32)),
    ]

    /// Requests answered through `exec`'s path, as the administrator's command line would send them.
    static let execLines: [String] = [
        #"{"cmd":"head"}"#, #"{"cmd":"public-key"}"#, #"{"id":1,"cmd":"checkpoint"}"#, #"{"cmd":"checkpoint","size":5}"#,
        #"{"cmd":"show","candidate":"NET-001"}"#, #"{"cmd":"show","candidate":"NET-010"}"#, #"{"cmd":"show","candidate":"NET-017"}"#,
        #"{"cmd":"show","candidate":"NET-016"}"#, #"{"cmd":"show","candidate":"NET-014"}"#, #"{"cmd":"show","candidate":"NET-001","as_of_seq":12}"#,
        #"{"cmd":"decisions"}"#, #"{"cmd":"decisions","standing":"stale"}"#, #"{"cmd":"decisions","outcome":"eligible","limit":2}"#,
        #"{"cmd":"decisions","site":"SITE-02"}"#, #"{"cmd":"queries"}"#, #"{"cmd":"queries","status":"open"}"#,
        #"{"cmd":"report"}"#, #"{"cmd":"report","format":"csv"}"#, #"{"cmd":"report","format":"html"}"#, #"{"cmd":"report","site":"SITE-01"}"#,
        #"{"cmd":"export.fhir"}"#, #"{"cmd":"audit-trail","limit":40}"#, #"{"cmd":"audit-trail","candidate":"NET-017"}"#,
        #"{"cmd":"export","limit":1000}"#, #"{"cmd":"export","from":100,"through":120}"#,
        #"{"cmd":"proof.inclusion","seq":7}"#, #"{"cmd":"proof.consistency","from":10}"#,
        #"{"cmd":"verify"}"#, #"{"cmd":"replay"}"#, #"{"cmd":"users"}"#,
        // Writes: each reply names its event and the head it left.
        #"{"id":"w1","cmd":"register","candidate":"WIRE-1","site":"SITE-01","consent_date":"2026-06-20"}"#,
        #"{"cmd":"record","kind":"ki67","candidate":"WIRE-1","fields":{"percent":4,"specimen_date":"2026-06-01","method":"manual_count"}}"#,
        #"{"cmd":"decide","candidate":"WIRE-1"}"#,
        #"{"cmd":"withdraw","candidate":"WIRE-1","category":"withdrew_consent","reason":"consent withdrawn"}"#,
        #"{"cmd":"query.open","candidate":"NET-001","text":"please confirm the specimen date"}"#,
        // Refusals.
        "", "   ", "{", "[]", "42", #"{"id":7}"#, #"{"cmd":"nope"}"#, #"{"cmd":"show"}"#, #"{"cmd":"show","candidate":"NOPE"}"#,
        #"{"cmd":"show","candidate":"NET-001","extra":1}"#, #"{"cmd":"show","candidate":"NET-001","actor":"x"}"#,
        #"{"cmd":"decisions","limit":0}"#, #"{"cmd":"report","format":"pdf"}"#, #"{"cmd":"export","from":0}"#,
        #"{"cmd":"record","kind":"ki67","candidate":"NET-001","fields":{"percent":"high"}}"#,
        #"{"cmd":"record","kind":"labs","candidate":"NET-001","fields":{"platelets":"210 g/L"}}"#,
        #"{"cmd":"correct","seq":1,"field":"trial_id","value":"X","reason":"r"}"#, #"{"cmd":"decide","candidate":"NOPE"}"#,
        #"{"cmd":"policy.check","text":"id: [","file":"bad.yaml"}"#, #"{"cmd":"proof.inclusion","seq":999999}"#,
    ]

    /// What each connection sends, in order: a login, then its requests.
    static let sessions: [(peer: String, lines: [String])] = [
        ("10.1.0.1:4000", [
            #"{"cmd":"show","candidate":"NET-001"}"#, #"{"cmd":"auth","token":"00"}"#, #"{"cmd":"auth"}"#, "{",
            #"{"id":1,"cmd":"auth","token":"\#(String(repeating: "c1", count: 32))"}"#,
            #"{"id":2,"cmd":"show","candidate":"NET-001"}"#, #"{"cmd":"show","candidate":"NET-003"}"#, #"{"cmd":"decisions"}"#,
            #"{"cmd":"report"}"#, #"{"cmd":"verify"}"#, #"{"cmd":"queries"}"#, #"{"cmd":"init","trial_id":"X","log_origin":"x"}"#,
            #"{"cmd":"register","candidate":"WIRE-2","site":"SITE-02"}"#, #"{"cmd":"register","candidate":"WIRE-2","site":"SITE-01"}"#,
            #"{"cmd":"users"}"#, #"{"cmd":"subscribe"}"#, "{\"cmd\":\"show\",\"candidate\":\"" + String(repeating: "x", count: 5000) + "\"}",
            #"{"cmd":"audit-trail","candidate":"NET-001"}"#, #"{"cmd":"head"}"#,
        ]),
        ("10.1.0.2:4000", [
            #"{"cmd":"auth","token":"\#(String(repeating: "5b", count: 32))"}"#, #"{"cmd":"decisions","standing":"current"}"#,
            #"{"cmd":"report","format":"csv"}"#, #"{"cmd":"show","candidate":"NET-001"}"#, #"{"cmd":"record","kind":"ki67","candidate":"NET-001","fields":{}}"#,
            #"{"cmd":"export.fhir","site":"SITE-01"}"#, #"{"cmd":"subscribe","from":0}"#,
        ]),
        ("10.1.0.3:4000", [
            #"{"cmd":"auth","token":"\#(String(repeating: "7e", count: 32))"}"#, #"{"cmd":"verify"}"#, #"{"cmd":"replay"}"#,
            #"{"cmd":"export","from":1,"limit":3}"#, #"{"cmd":"users"}"#, #"{"id":"s","cmd":"subscribe","from":3}"#, #"{"cmd":"head"}"#,
        ]),
        ("10.1.0.4:4000", [
            #"{"cmd":"auth","token":"\#(String(repeating: "40", count: 32))"}"#, #"{"cmd":"queries"}"#, #"{"cmd":"show","candidate":"NET-001"}"#,
            #"{"cmd":"decide","candidate":"NET-003"}"#, #"{"cmd":"query.open","candidate":"NET-003","text":"source document missing"}"#,
        ]),
        ("10.1.0.5:4000", [
            #"{"cmd":"auth","token":"\#(String(repeating: "ad", count: 32))"}"#, #"{"cmd":"users"}"#,
            #"{"cmd":"user.disable","name":"wire-monitor","reason":"left the trial"}"#, #"{"cmd":"show","candidate":"NET-001"}"#,
        ]),
    ]

    /// Builds the scene and returns its transcript: each request and its reply, then the store's rows.
    static func transcript() throws -> String {
        let dir = TempDir()
        let path = dir.path + "/wire.sqlite"
        let store = try EventStore.create(path: path)
        defer { store.close() }
        let key = try TrialKey(seed: Array(repeating: 3, count: 32))
        let clock = TestClock("2026-07-01T09:00:00.000Z")
        let dispatcher = Dispatcher(store: store, clock: clock, key: { key })
        _ = try dispatcher.execute(.initialise(trialID: "WIRE-1", logOrigin: "trialgate.test/WIRE-1"), actor: "wire:admin")
        _ = try dispatcher.execute(.policyPublish(text: ShippedPolicies.sanetEP, file: "sanet-ep.yaml"), actor: "wire:admin")
        _ = try DemoScenario(today: clock.now().date).run(dispatcher: dispatcher, actor: "wire:coordinator", admin: "wire:admin")
        for user in tokens {
            _ = try dispatcher.execute(.userAdd(name: user.name, role: user.role, sites: user.sites, tokenSHA256: Digest.sha256Hex(user.token),
                                                expiresAt: nil), actor: "wire:admin")
        }
        var out = "# exec\n"
        for line in execLines {
            clock.advance(seconds: 1)
            out += "> \(line)\n< \(dispatcher.handle(line: Array(line.utf8), actor: "wire:admin") ?? "(no reply)")\n"
        }
        var config = ServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 0), storePath: path,
                                         keyPath: dir.path + "/unused.key", usersPath: dir.path + "/users.json")
        config.maxLineBytes = 4096
        let server = LineServer(configuration: config, logger: Logger(label: "wire", factory: { _ in SwiftLogNoOpLogHandler() }))
        for session in sessions {
            out += "# session \(session.peer)\n"
            let s = try ProtocolSession(server: server, dispatcher: dispatcher, peer: session.peer)
            for line in session.lines {
                clock.advance(seconds: 1)
                let replies = try s.receive(Array((line + "\n").utf8))
                out += "> \(line.count > 200 ? String(line.prefix(60)) + "…(\(line.utf8.count) bytes)" : line)\n"
                for reply in replies { out += "< \(CanonicalJSON.string(reply))\n" }
            }
        }
        out += "# store\n"
        try store.forEachRow(from: 1, through: .max) { row in
            out += "\(row.seq) \(row.timestamp) \(row.actor) \(row.type) \(row.candidate ?? "-") \(row.prevHash) \(row.hash) \(row.registrationSeq.map(String.init) ?? "-")\n"
            out += "  \(String(decoding: row.body, as: UTF8.self))\n"
        }
        for checkpoint in try store.checkpoints() {
            out += "checkpoint \(checkpoint.size) \(checkpoint.issuedAt)\n\(checkpoint.note)"
        }
        for snapshot in try store.reportSnapshotSizes() { out += "report snapshot \(snapshot)\n" }
        return out
    }

    @Test func storedBytesSignaturesAndRepliesAreUnchanged() throws {
        let now = try Self.transcript()
        if let path = ProcessInfo.processInfo.environment["TRIALGATE_WIRE_TRANSCRIPT_OUT"] {
            try now.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let recorded = try fixtureText("wire/transcript.txt")
        let a = now.split(separator: "\n", omittingEmptySubsequences: false), b = recorded.split(separator: "\n", omittingEmptySubsequences: false)
        if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("line \(i + 1) differs:\n  now:      \(a[i].prefix(600))\n  recorded: \(b[i].prefix(600))")
        }
        #expect(a.count == b.count, "\(a.count) lines now, \(b.count) recorded")
    }
}
