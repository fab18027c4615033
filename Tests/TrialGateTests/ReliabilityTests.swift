import Foundation
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateService
import TrialGateStore

/// Faults that need no special privileges; disk full and a read-only filesystem are in scripts/faults.sh.
@Suite("Faults: each gives a clear error, refuses to write wrongly, loses nothing acknowledged")
struct ReliabilityTests {
    private func populated() throws -> Fixture {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        _ = try DemoScenario(today: f.clock.now().date).run(dispatcher: f.dispatcher, actor: "coordinator")
        return f
    }

    @Test("the store file deleted under a running writer: writes are refused, not sent to the orphaned file")
    func storeDeleted() throws {
        let f = try populated()
        try FileManager.default.removeItem(atPath: f.storePath)
        #expect(f.errorCode(.register(candidate: "AFTER-DELETE", fields: ["site": "SITE-01"])) == "store_replaced")
        #expect(f.errorCode(.decide(candidate: "NET-001")) == "store_replaced")
        // A batch (the server's writer) is refused as a whole: nobody gets an acknowledgement.
        #expect(throws: TrialGateError.self) {
            try f.dispatcher.executeBatch([(.register(candidate: "B", fields: ["site": "SITE-01"]), "c")])
        }
    }

    @Test("the store file replaced by another (an older copy) under a running writer: writes are refused")
    func storeReplaced() throws {
        let f = try populated()
        let copy = f.dir.path + "/copy.sqlite"
        f.store.close()
        try FileManager.default.copyItem(atPath: f.storePath, toPath: copy)
        let reopened = try EventStore.open(path: f.storePath)
        let d = Dispatcher(store: reopened, clock: f.clock, key: { f.key })
        let before = try reopened.head().size
        #expect(rename(copy, f.storePath) == 0)
        #expect { try d.execute(.register(candidate: "X", fields: ["site": "SITE-01"]), actor: "c") } throws: {
            TrialGateError($0).code.rawValue == "store_replaced"
        }
        let other = try EventStore.open(path: f.storePath)
        #expect(try other.head().size == before)
    }

    @Test("a corrupt page: verify names the damage, reads fail with store_corrupt, nothing is written over it")
    func corruptPage() throws {
        let f = try populated()
        f.store.close()
        // Overwrite 4 KiB in the middle of the file (checkpoint the WAL into it first).
        let (ck, ckOut) = try shell(["sqlite3", f.storePath, "PRAGMA wal_checkpoint(TRUNCATE);"])
        #expect(ck == 0, "\(ckOut)")
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: f.storePath))
        let length = try handle.seekToEnd()
        try handle.seek(toOffset: (length / 2) & ~4095)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096))
        try handle.close()
        let damaged: EventStore
        do { damaged = try EventStore.open(path: f.storePath) } catch {
            #expect(TrialGateError(error).code.rawValue == "store_corrupt")
            return
        }
        let d = Dispatcher(store: damaged, clock: f.clock, key: { f.key })
        let verify: JSONValue
        do { verify = try d.execute(.verify(), actor: "regulator") } catch {
            #expect(TrialGateError(error).code.rawValue == "store_corrupt", "\(error)")
            return
        }
        #expect(verify["valid"] == false, "a damaged page must not verify: \(verify)")
    }

    @Test("a missing or unreadable key: every write is refused with a key error, nothing is appended")
    func missingKey() throws {
        let f = try Fixture(policy: ShippedPolicies.sanetEP)
        let size = try f.size()
        let d = Dispatcher(store: f.store, clock: f.clock, key: { try TrialKey.load(path: f.dir.path + "/absent.key") })
        for c: Command in [.register(candidate: "K-1", fields: ["site": "SITE-01"]), .decide(candidate: "K-1")] {
            #expect { try d.execute(c, actor: "c") } throws: { TrialGateError($0).code.rawValue.hasPrefix("key_") }
        }
        #expect(try f.size() == size)
        // Reads need no key.
        #expect(try d.execute(.verify(), actor: "r")["valid"] == true)
    }
}
