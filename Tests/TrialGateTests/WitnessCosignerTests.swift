import Foundation
import Logging
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGateServer
import TrialGateService
import TrialGateStore
import TrialGateWitness

/// The server's witness threads: cosigning follows the writes, a witness that is down or hangs holds up nothing and
/// is retried with backoff, and a quiet log is cosigned again with a newer time.
@Suite struct WitnessCosignerTests {
    /// A witness reached in-process, which the test can take down or make hang.
    final class Reachable: @unchecked Sendable {
        let witness: Witness
        let clock = WitnessQuorumTests.WitnessClock()
        private let lock = NSLock()
        private var down = false
        private var gate: DispatchSemaphore?
        private(set) var cosigned = 0
        private(set) var attempts = 0

        init(_ dir: TempDir, log: Fixture) throws {
            let folder = dir.path + "/w"
            _ = try Witness.initialise(dir: folder, name: "witness.test/server")
            _ = try Witness.addLog(dir: folder, vkey: try NoteVerifierKey(name: "trialgate.test/T-1", publicKey: log.key.publicKey).vkey)
            let clock = self.clock
            witness = try Witness(dir: folder, clock: { clock.now })
        }

        func setDown(_ value: Bool) { lock.withLock { down = value } }
        /// Until `release`, every submission waits.
        func hang() -> DispatchSemaphore { lock.withLock { let s = DispatchSemaphore(value: 0); gate = s; return s } }
        func release() { lock.withLock { gate?.signal(); gate = nil } }

        func send(_ body: String) throws -> (status: Int, body: String) {
            let (isDown, waiting) = lock.withLock { attempts += 1; return (down, gate) }
            if let waiting { waiting.wait(); waiting.signal() }
            if isDown { throw TrialGateError(.connectFailed, "witness.test: connection refused") }
            let reply = witness.addCheckpoint(body)
            if reply.status == 200 { lock.withLock { cosigned += 1 } }
            return (reply.status, reply.body)
        }
    }

    static func start(_ f: Fixture, _ w: Reachable, refresh: Double = 3600) -> WitnessCosigners {
        var settings = WitnessCosigners.Settings()
        (settings.interval, settings.maximumBackoff, settings.refresh) = (0.02, 0.2, refresh)
        let path = f.storePath
        return WitnessCosigners(targets: [WitnessTarget(url: URL(string: "http://witness.test/add-checkpoint")!, key: w.witness.cosignerKey)],
                                settings: settings, logger: Logger(label: "test"), openStore: { try EventStore.open(path: path) },
                                transport: { _, body in try w.send(body) })
    }

    /// Polls `condition` for up to 10 s.
    static func eventually(_ condition: () throws -> Bool) rethrows -> Bool {
        for _ in 0..<1000 {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.01)
        }
        return try condition()
    }

    @Test("cosigning follows the writes; a witness that is down is retried with backoff, and catches up")
    func followsWritesAndRecovers() throws {
        let dir = TempDir()
        let f = try Fixture()
        let w = try Reachable(dir, log: f)
        let cosigners = Self.start(f, w)
        defer { cosigners.stop(waitingAtMost: 2) }
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        cosigners.committed(size: try f.size())
        #expect(try Self.eventually { try f.store.cosignedSizes()["witness.test/server"] == f.size() })

        w.setDown(true)
        try f.run(.register(candidate: "C-2", fields: ["site": "SITE-01"]))
        cosigners.committed(size: try f.size())
        #expect(Self.eventually { (cosigners.status.first?.failures ?? 0) >= 3 }, "retried while down")
        let status = try #require(cosigners.status.first)
        #expect(status.committed - status.cosigned == 1 && status.lastError?.contains("connection refused") == true, "\(status)")
        #expect(try f.store.cosignedSizes()["witness.test/server"] == f.size() - 1)

        w.setDown(false)
        #expect(try Self.eventually { try f.store.cosignedSizes()["witness.test/server"] == f.size() })
        #expect(Self.eventually { cosigners.status.first?.failures == 0 && cosigners.status.first?.lastError == nil })
    }

    @Test("a witness that hangs holds up no write and no commit signal")
    func hangingWitnessHoldsUpNothing() throws {
        let dir = TempDir()
        let f = try Fixture()
        let w = try Reachable(dir, log: f)
        let cosigners = Self.start(f, w)
        defer { cosigners.stop(waitingAtMost: 2) }
        let gate = w.hang()
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        cosigners.committed(size: try f.size())
        #expect(Self.eventually { w.attempts >= 1 }, "the submission is under way, and waits")
        // While it waits, writes and commit signals go on (were either waiting for the witness, this would hang).
        for i in 2...20 {
            try f.run(.register(candidate: "C-\(i)", fields: ["site": "SITE-01"]))
            cosigners.committed(size: try f.size())
        }
        #expect(w.cosigned == 0)
        _ = gate
        w.release()
        #expect(try Self.eventually { try f.store.cosignedSizes()["witness.test/server"] == f.size() }, "it catches up with one submission")
        #expect(w.cosigned <= 3, "the writes were not submitted one by one: \(w.cosigned)")
    }

    @Test("a quiet log is resubmitted, and cosigned again with a newer time")
    func quietLogIsRefreshed() throws {
        let dir = TempDir()
        let f = try Fixture()
        let w = try Reachable(dir, log: f)
        try f.run(.register(candidate: "C-1", fields: ["site": "SITE-01"]))
        let cosigners = Self.start(f, w, refresh: 0.05)
        defer { cosigners.stop(waitingAtMost: 2) }
        #expect(try Self.eventually { try f.store.cosignedSizes()["witness.test/server"] == f.size() })
        let first = try #require(try f.store.cosignatures(size: f.size()).first)
        w.clock.advance(600)
        #expect(try Self.eventually { try f.store.cosignatures(size: f.size()).first?.line != first.line }, "a newer cosignature of the same checkpoint")
        let (_, verdict) = try WitnessSubmission.quorum(store: f.store, witnesses: [w.witness.cosignerKey], quorum: 1, maxAge: 60, now: w.clock.now)
        #expect(verdict.met, "\(verdict.summary(size: 0))")
    }
}
