import Foundation
import Logging
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateWitness

/// The witness service: its state on disk, one decision at a time, and its HTTP face (C2SP tlog-witness).
@Suite struct WitnessServiceTests {
    typealias Log = WitnessRulesTests.Log

    /// A witness folder witnessing `log`, at a fixed clock.
    static func witness(for log: Log, in dir: TempDir, time: UInt64 = 1_790_000_000) throws -> Witness {
        let folder = dir.path + "/w1"
        _ = try Witness.initialise(dir: folder, name: "witness.test/w1")
        _ = try Witness.addLog(dir: folder, vkey: log.signer.verifier.vkey)
        return try Witness(dir: folder, clock: { time })
    }

    @Test("a cosigned checkpoint is on disk before the reply, survives a restart, and the cosignature verifies")
    func persistsBeforeReplying() throws {
        let dir = TempDir()
        let log = try Log(leaves: (1...9).map { "event \($0)" })
        let w = try Self.witness(for: log, in: dir)
        let reply = w.addCheckpoint(try log.request(old: 0, size: 4))
        #expect(reply.status == 200)
        #expect(try WitnessState.load(dir: w.dir).latest[log.origin]?.size == 4, "persisted before answering")
        let cosigned = try Cosignature.verified(try log.note(size: 4) + reply.body, cosigners: [w.cosignerKey])
        #expect(cosigned.map(\.timestamp) == [1_790_000_000])
        let restarted = try Witness(dir: w.dir)
        #expect(restarted.addCheckpoint(try log.request(old: 0, size: 9)) == .init(status: 409, contentType: "text/x.tlog.size", body: "4\n"))
        #expect(restarted.addCheckpoint(try log.request(old: 4, size: 9)).status == 200)
    }

    @Test("two requests from the same old size: one is cosigned, the other is told the new size (the check and the update are one step)")
    func atomicCheckAndUpdate() async throws {
        let dir = TempDir()
        let log = try Log(leaves: (1...12).map { "event \($0)" })
        let w = try Self.witness(for: log, in: dir)
        #expect(w.addCheckpoint(try log.request(old: 0, size: 2)).status == 200)
        let a = try log.request(old: 2, size: 7), b = try log.request(old: 2, size: 12)
        let statuses = await withTaskGroup(of: Int.self) { group in
            for body in [a, b] { group.addTask { w.addCheckpoint(body).status } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.sorted() == [200, 409])
    }

    @Test("over HTTP: 200 with the cosignature line, 409 as text/x.tlog.size, 404, 405 and 413 for what is not a request")
    func http() throws {
        let dir = TempDir()
        let log = try Log(leaves: (1...6).map { "event \($0)" })
        let server = WitnessServer(witness: try Self.witness(for: log, in: dir), logger: Logger(label: "test"))
        let address = try server.start(host: "127.0.0.1", port: 0)
        defer { try? server.close() }
        let port = try #require(address.port)
        func post(_ body: String, path: String = "/add-checkpoint", method: String = "POST") throws -> (Int32, String) {
            let script = """
                import http.client, sys
                c = http.client.HTTPConnection("127.0.0.1", \(port), timeout=10)
                c.request(sys.argv[1], sys.argv[2], body=sys.stdin.buffer.read())
                r = c.getresponse()
                print(r.status, r.getheader("Content-Type"))
                sys.stdout.write(r.read().decode())
                """
            return try shell(["python3", "-c", script, method, path], input: body)
        }
        let ok = try post(try log.request(old: 0, size: 6)).1
        #expect(ok.hasPrefix("200 text/plain"), "\(ok)")
        #expect(ok.contains("\u{2014} witness.test/w1 "))
        #expect(try post(try log.request(old: 0, size: 6)).1 == "409 text/x.tlog.size\n6\n")
        #expect(try post("", path: "/other").1.hasPrefix("404"))
        #expect(try post("", method: "GET").1.hasPrefix("405"))
        #expect(try post(String(repeating: "x", count: WitnessServer.maximumBody + 1)).1.hasPrefix("413"))
    }
}
