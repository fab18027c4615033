import Foundation
import TrialGateAudit
import TrialGateCore

extension Dispatcher {
    func headResult() throws -> JSONValue {
        let store = try requireStore()
        let head = try store.head()
        var result: [String: JSONValue] = ["size": .number(Double(head.size)), "head": .string(head.hash)]
        if head.size > 0, let first = try store.event(seq: 1) {
            result["trial_id"] = first.payload["trial_id"] ?? .null
            result["log_origin"] = first.payload["log_origin"] ?? .null
            let keys = try LogState(partial: try store.events(types: [.trialInitialised, .keyRotated]), head: (0, "")).keys
            result["key_id"] = .from(keys.last?.keyID)
        }
        if let policy = try store.events(types: [.policyPublished]).last {
            result["policy"] = ["id": policy.payload["policy_id"] ?? .null, "version": policy.payload["version"] ?? .null,
                                "sha256": policy.payload["sha256"] ?? .null, "seq": .number(Double(policy.seq))]
        }
        return .object(result)
    }

    /// The trial's signing keys from the log: the one in force and its whole history, each as raw base64,
    /// PEM (SubjectPublicKeyInfo) and C2SP signed-note vkey (the name is the log origin).
    func publicKey() throws -> JSONValue {
        let store = try requireStore()
        let state = try LogState(partial: try store.events(types: [.trialInitialised, .keyRotated]), head: (0, ""))
        guard let trial = state.trial, let current = state.signingKey else { throw TrialGateError(.notInitialised, "the store has no trial key yet") }
        func describe(_ k: SigningKeyRecord) throws -> JSONValue {
            guard let raw = Data(base64Encoded: k.publicKey).map(Array.init), raw.count == 32 else {
                throw TrialGateError(.storeCorrupt, "key \(k.keyID) in event \(k.seq) is not a 32-byte Ed25519 key")
            }
            return ["seq": .number(Double(k.seq)), "key_id": .string(k.keyID), "public_key": .string(k.publicKey),
                    "pem": .string(TrialKey.publicKeyPEM(raw)),
                    "vkey": .string(try NoteVerifierKey(name: trial.logOrigin, publicKey: raw).vkey)]
        }
        guard case .object(var o) = try describe(current) else { return .null }
        o["keys"] = .array(try state.keys.map(describe))
        return .object(o)
    }
}
