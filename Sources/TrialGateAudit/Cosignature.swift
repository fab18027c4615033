import Foundation
import TrialGateCore

/// A witness's Ed25519 cosigner key (C2SP tlog-cosignature, `cosignature/v1`): a name and a public key, whose key id is
/// SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key)[:4]; its vkey is `<name>+<hex key id>+<base64(0x04 ‖ public key)>`.
public struct CosignerKey: Sendable, Equatable {
    public let name: String
    public let publicKey: [UInt8]
    public let keyID: [UInt8]

    /// The signature-type byte of Ed25519 cosignatures (tlog-cosignature, "Format").
    static let cosignatureType: UInt8 = 0x04

    public init(name: String, publicKey: [UInt8]) throws {
        try NoteVerifierKey.checkName(name)
        guard publicKey.count == 32 else { throw TrialGateError(.badVKey, "an Ed25519 public key is 32 bytes, got \(publicKey.count)") }
        self.name = name
        self.publicKey = publicKey
        keyID = NoteVerifierKey.keyID(name: name, type: Self.cosignatureType, publicKey: publicKey)
    }

    /// Parses a cosigner vkey; the key id must match the name and key.
    public init(vkey text: String) throws {
        let (name, id, key) = try NoteVerifierKey.parse(vkey: text, type: Self.cosignatureType, kind: "a cosigner verifier key",
                                                        typeName: "an Ed25519 cosigner (4)")
        try self.init(name: name, publicKey: key)
        try NoteVerifierKey.checkID(id, of: keyID)
    }

    /// The vkey line.
    public var vkey: String { NoteVerifierKey.vkey(name: name, type: Self.cosignatureType, keyID: keyID, publicKey: publicKey) }
}

/// C2SP tlog-cosignature v1 with Ed25519: a timestamped statement by a witness that, as of the time it gives, the
/// checkpoint is the largest consistent tree it has observed for the log.
public enum Cosignature {
    /// A cosignature that verified: by whom, and the POSIX time it states.
    public struct Verified: Sendable, Equatable {
        public let cosigner: CosignerKey
        public let timestamp: UInt64

        public init(cosigner: CosignerKey, timestamp: UInt64) { (self.cosigner, self.timestamp) = (cosigner, timestamp) }
    }

    /// The signed message: `cosignature/v1`, `time <timestamp>`, then the checkpoint's note text (its final newline
    /// included, no signature lines).
    public static func message(checkpointText: String, timestamp: UInt64) -> [UInt8] {
        Array("cosignature/v1\ntime \(timestamp)\n\(checkpointText)".utf8)
    }

    /// The note signature line `— <name> base64(key id ‖ u64 big-endian timestamp ‖ signature)` of `key` over the
    /// checkpoint, newline-terminated.
    public static func line(checkpointText: String, timestamp: UInt64, name: String, key: TrialKey) throws -> String {
        precondition(timestamp <= UInt64(Int64.max), "a cosignature's timestamp is at most 2^63 − 1")
        let cosigner = try CosignerKey(name: name, publicKey: key.publicKey)
        let signature = key.sign(message(checkpointText: checkpointText, timestamp: timestamp))
        let time = (0..<8).reversed().map { UInt8(truncatingIfNeeded: timestamp >> (8 * UInt64($0))) }
        return "\u{2014} \(name) \(Data(cosigner.keyID + time + signature).base64EncodedString())\n"
    }

    /// The cosignatures on `note` by the given cosigners that verify; a signature line of another key is ignored.
    /// - Throws: `bad_note` when the note is not a signed note.
    public static func verified(_ note: String, cosigners: [CosignerKey]) throws -> [Verified] {
        let (text, signatures) = try SignedNote.parse(note)
        var out: [Verified] = []
        for s in signatures {
            guard let key = cosigners.first(where: { $0.name == s.name && $0.keyID == s.keyID }), s.signature.count == 8 + 64 else { continue }
            let timestamp = s.signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard timestamp <= UInt64(Int64.max),
                  SignatureCheck.verify(signature: Array(s.signature.dropFirst(8)), message: message(checkpointText: text, timestamp: timestamp),
                                        publicKey: key.publicKey) else { continue }
            out.append(Verified(cosigner: key, timestamp: timestamp))
        }
        return out
    }
}
