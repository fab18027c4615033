import Foundation
import TrialGateAudit
import TrialGateCore

extension Dispatcher {
    func headResult() throws -> HeadReply {
        let store = try requireStore()
        let head = try store.head()
        var trial: HeadReply.Trial?
        if head.size > 0, let first = try store.event(seq: 1) {
            let keys = try LogState(partial: try store.events(types: [.trialInitialised, .keyRotated]), head: (0, "")).keys
            if let info = try? TrialInfo(payloadOf: first) {
                trial = .init(trialID: info.trialID, logOrigin: info.logOrigin, keyID: keys.last?.keyID)
            } else {
                // An event 1 the decoder refuses (a forged log's): what it holds is shown as stored, as before.
                trial = .init(trialID: first.payload["trial_id"]?.stringValue, logOrigin: first.payload["log_origin"]?.stringValue, keyID: keys.last?.keyID)
            }
        }
        let policy = try store.events(types: [.policyPublished]).last.map { e in
            if let p = try? PublishedPolicy(payloadOf: e) { return HeadReply.Policy(id: p.id, version: p.version, sha256: p.sha256, seq: e.seq) }
            // A publication the decoder refuses (a forged log's): what it holds is shown as stored, as before.
            return HeadReply.Policy(id: e.payload["policy_id"]?.stringValue, version: e.payload["version"]?.stringValue,
                                    sha256: e.payload["sha256"]?.stringValue, seq: e.seq)
        }
        return HeadReply(size: head.size, head: head.hash, trial: trial, policy: policy, store: try store.status())
    }

    /// The trial's signing keys from the log: the one in force and its whole history, each as raw base64,
    /// PEM (SubjectPublicKeyInfo) and C2SP signed-note vkey (the name is the log origin).
    func publicKey() throws -> PublicKeyReply {
        let store = try requireStore()
        let state = try LogState(partial: try store.events(types: [.trialInitialised, .keyRotated]), head: (0, ""))
        guard let trial = state.trial, let current = state.signingKey else { throw TrialGateError(.notInitialised, "the store has no trial key yet") }
        func describe(_ k: SigningKeyRecord) throws -> PublicKeyReply.Key {
            guard let raw = Data(base64Encoded: k.publicKey).map(Array.init), raw.count == 32 else {
                throw TrialGateError(.storeCorrupt, "key \(k.keyID) in event \(k.seq) is not a 32-byte Ed25519 key")
            }
            return .init(seq: k.seq, keyID: k.keyID, publicKey: k.publicKey, pem: TrialKey.publicKeyPEM(raw),
                         vkey: try NoteVerifierKey(name: trial.logOrigin, publicKey: raw).vkey)
        }
        return PublicKeyReply(current: try describe(current), keys: try state.keys.map(describe))
    }
}
