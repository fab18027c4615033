import Foundation
import TrialGateCore

/// The trial's key history as the log states it, checked: every `key.rotated` must be signed over its rotation
/// statement by the key it replaces and by the key it brings in, so that nobody without the key in force can
/// bring a key of their own into force. The auditor and the writer both use this one definition.
public enum KeyChain {
    /// One Ed25519 signature a rotation must carry.
    public struct RequiredSignature: Sendable {
        public let signature: [UInt8]
        public let message: [UInt8]
        public let publicKey: [UInt8]
    }

    /// What a rotation must satisfy that needs no signature check, and the two signatures it must carry.
    /// - Parameters:
    ///   - event: the `key.rotated` event.
    ///   - trial: the trial as initialised.
    ///   - previous: the key in force just before the event.
    /// - Returns: a problem when the rotation is malformed, otherwise the signatures to verify.
    public static func requirements(of event: Event, trial: TrialInfo, previous: SigningKeyRecord)
        -> Result<[RequiredSignature], KeyChainProblem>
    {
        let p = event.payload
        guard let oldKey = Data(base64Encoded: previous.publicKey).map(Array.init), oldKey.count == 32,
              let newText = p["public_key"]?.stringValue, let newKey = Data(base64Encoded: newText).map(Array.init), newKey.count == 32,
              let keyID = p["key_id"]?.stringValue
        else {
            return .failure(KeyChainProblem(seq: event.seq, message: "the key rotation names no usable keys"))
        }
        if TrialKey.keyID(publicKey: newKey) != keyID {
            return .failure(KeyChainProblem(seq: event.seq, message: "the rotated key's key_id is not derived from its public key"))
        }
        // The statement is bound to the position the rotation was appended at: the event's own seq and prev_hash.
        let statement = CanonicalJSON.encode(keyRotationStatement(
            trialID: trial.trialID, logOrigin: trial.logOrigin, previousKeyID: previous.keyID, publicKey: newText, keyID: keyID,
            logSize: event.seq - 1, logHead: event.prevHash))
        func bytes(_ field: String) -> [UInt8] { Data(base64Encoded: p[field]?.stringValue ?? "").map(Array.init) ?? [] }
        return .success([
            RequiredSignature(signature: bytes("signature"), message: statement, publicKey: oldKey),
            RequiredSignature(signature: bytes("new_key_signature"), message: statement, publicKey: newKey),
        ])
    }

    /// Checks every rotation in `rotations` (the log's `key.rotated` events, in order) against the key history
    /// `keys` that folding them gave (`LogState.keys`), verifying each signature now.
    /// - Returns: the first rotation that does not verify, or nil when the whole chain does.
    public static func firstProblem(trial: TrialInfo, keys: [SigningKeyRecord], rotations: [Event]) -> KeyChainProblem? {
        for (i, event) in rotations.enumerated() {
            guard i + 1 < keys.count, keys[i + 1].seq == event.seq else {
                return KeyChainProblem(seq: event.seq, message: "the key rotation is not part of the trial's key history")
            }
            switch requirements(of: event, trial: trial, previous: keys[i]) {
            case .failure(let problem): return problem
            case .success(let required):
                for r in required where !SignatureCheck.verify(signature: r.signature, message: r.message, publicKey: r.publicKey) {
                    return KeyChainProblem(seq: event.seq, message: "the key rotation's signatures do not verify with the key it replaces and the key it brings in")
                }
            }
        }
        return nil
    }
}

/// A key rotation that does not hold, at the event that shows it.
public struct KeyChainProblem: Error, Sendable, Equatable {
    public let seq: Int64
    public let message: String
}
