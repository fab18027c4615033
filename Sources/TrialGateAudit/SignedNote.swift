@preconcurrency import Crypto
import TrialGateCore
import Foundation

/// A C2SP `signed-note` verifier key (Ed25519 only): `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
public struct NoteVerifierKey: Sendable, Equatable {
    public let name: String
    /// The 4-byte key id: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4].
    public let keyID: [UInt8]
    public let publicKey: [UInt8]

    /// The signature-type byte of Ed25519 in signed notes.
    static let ed25519Type: UInt8 = 0x01

    public init(name: String, publicKey: [UInt8]) throws {
        try Self.checkName(name)
        guard publicKey.count == 32 else { throw TrialGateError(.badVKey, "an Ed25519 public key is 32 bytes, got \(publicKey.count)") }
        self.name = name
        self.publicKey = publicKey
        self.keyID = Self.keyID(name: name, publicKey: publicKey)
    }

    /// Parses a vkey line; the key id must match the name and key.
    public init(vkey text: String) throws {
        let (name, id, key) = try Self.parse(vkey: text, type: Self.ed25519Type, kind: "a signed-note verifier key", typeName: "Ed25519 (1)")
        try self.init(name: name, publicKey: key)
        try Self.checkID(id, of: keyID)
    }

    /// The vkey line.
    public var vkey: String { Self.vkey(name: name, type: Self.ed25519Type, keyID: keyID, publicKey: publicKey) }

    static func keyID(name: String, publicKey: [UInt8]) -> [UInt8] { keyID(name: name, type: ed25519Type, publicKey: publicKey) }

    /// A key id of the signed-note family: SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4].
    static func keyID(name: String, type: UInt8, publicKey: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, type] + publicKey).prefix(4))
    }

    /// A vkey line of the signed-note family: `<name>+<hex key id>+<base64(type ‖ public key)>`.
    static func vkey(name: String, type: UInt8, keyID: [UInt8], publicKey: [UInt8]) -> String {
        "\(name)+\(Digest.hex(keyID))+\(Data([type] + publicKey).base64EncodedString())"
    }

    /// The name, key id and 32-byte public key of a vkey line whose key type must be `type`.
    static func parse(vkey text: String, type: UInt8, kind: String, typeName: String) throws -> (name: String, id: [UInt8], key: [UInt8]) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let id = Digest.bytes(hex: String(parts[1])), id.count == 4,
              let raw = Data(base64Encoded: String(parts[2])).map(Array.init), raw.count == 33 else {
            throw TrialGateError(.badVKey, "not \(kind) (name+hex id+base64 key): \(text.prefix(80))")
        }
        guard raw[0] == type else { throw TrialGateError(.badVKey, "verifier key type \(raw[0]) is not \(typeName)") }
        return (String(parts[0]), id, Array(raw[1...]))
    }

    /// Refuses a vkey whose stated key id is not the one its name and key give.
    static func checkID(_ stated: [UInt8], of computed: [UInt8]) throws {
        guard stated == computed else { throw TrialGateError(.badVKey, "verifier key id \(Digest.hex(stated)) does not match its name and key") }
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0 == "+" || $0.properties.isWhitespace }) else {
            throw TrialGateError(.badKeyName, "a signed-note key name must be non-empty, without spaces or '+': \"\(name)\"")
        }
    }
}

/// A C2SP `signed-note` signing key: a `TrialKey` under a key name. Also reads Go's
/// `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 ‖ seed)>` form, used by published vectors.
public struct NoteSigner: Sendable {
    public let key: TrialKey
    public let verifier: NoteVerifierKey

    public init(name: String, key: TrialKey) throws {
        self.key = key
        self.verifier = try NoteVerifierKey(name: name, publicKey: key.publicKey)
    }

    public init(skey text: String) throws {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY",
              let raw = Data(base64Encoded: String(parts[4])).map(Array.init), raw.count == 33, raw[0] == NoteVerifierKey.ed25519Type else {
            throw TrialGateError(.badSKey, "not an Ed25519 signed-note signing key")
        }
        try self.init(name: String(parts[2]), key: try TrialKey(seed: Array(raw[1...])))
        guard Digest.hex(verifier.keyID) == parts[3] else { throw TrialGateError(.badSKey, "signing key id \(parts[3]) does not match") }
    }
}

/// C2SP signed notes: a text ending in a newline, a blank line, then `— <name> <base64(key id ‖ signature)>` lines.
public enum SignedNote {
    /// Signs `text` (which must end in a newline) with each signer, in order.
    public static func sign(_ text: String, by signers: [NoteSigner]) throws -> String {
        try checkText(text)
        var note = text + "\n"
        for s in signers {
            let sig = s.key.sign(Array(text.utf8))
            note += "\u{2014} \(s.verifier.name) \(Data(s.verifier.keyID + sig).base64EncodedString())\n"
        }
        return note
    }

    /// One signature line of a note.
    public struct Signature: Sendable, Equatable {
        public let name: String
        public let keyID: [UInt8]
        public let signature: [UInt8]
    }

    /// Splits a note into its text and signatures, checking the format only.
    public static func parse(_ note: String) throws -> (text: String, signatures: [Signature]) {
        guard note.hasSuffix("\n") else { throw TrialGateError(.badNote, "a signed note ends with a newline") }
        // The last blank line, found in the UTF-8 bytes (a newline byte is never part of another character's).
        let bytes = Array(note.utf8)
        var blank = bytes.count - 2
        while blank >= 0, !(bytes[blank] == 0x0A && bytes[blank + 1] == 0x0A) { blank -= 1 }
        guard blank >= 0 else { throw TrialGateError(.badNote, "a signed note needs a blank line before its signatures") }
        let text = String(decoding: bytes[..<blank], as: UTF8.self) + "\n"
        try checkText(text)
        let sigBytes = blank + 2 < bytes.count ? bytes[(blank + 2)..<(bytes.count - 1)] : []
        let sigLines = sigBytes.split(separator: 0x0A, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        guard !sigLines.isEmpty else { throw TrialGateError(.badNote, "a signed note has at least one signature") }
        var signatures: [Signature] = []
        for line in sigLines {
            guard line.hasPrefix("\u{2014} ") else { throw TrialGateError(.badNote, "signature lines start with an em dash and a space: \(line.prefix(40))") }
            let fields = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let raw = Data(base64Encoded: String(fields[1])).map(Array.init), raw.count > 4 else {
                throw TrialGateError(.badNote, "a signature line is `— <name> <base64>`: \(line.prefix(40))")
            }
            try NoteVerifierKey.checkName(String(fields[0]))
            signatures.append(Signature(name: String(fields[0]), keyID: Array(raw.prefix(4)), signature: Array(raw.dropFirst(4))))
        }
        return (text, signatures)
    }

    /// Opens a note with the keys the caller trusts: signatures by unknown keys are ignored, a known key's
    /// bad signature rejects the note, and at least one known key must have signed.
    /// - Returns: the text and the verifier keys whose signatures verified.
    public static func open(_ note: String, keys: [NoteVerifierKey]) throws -> (text: String, signedBy: [NoteVerifierKey]) {
        let (text, signatures) = try parse(note)
        var verified: [NoteVerifierKey] = []
        for s in signatures {
            guard let key = keys.first(where: { $0.name == s.name && $0.keyID == s.keyID }) else { continue }
            guard SignatureCheck.verify(signature: s.signature, message: Array(text.utf8), publicKey: key.publicKey) else {
                throw TrialGateError(.badNoteSignature, "the signature of \(key.name)+\(Digest.hex(key.keyID)) does not verify")
            }
            verified.append(key)
        }
        guard !verified.isEmpty else {
            throw TrialGateError(.unknownNoteKey, "no signature by a known key (signed by: \(signatures.map { "\($0.name)+\(Digest.hex($0.keyID))" }.joined(separator: ", ")))")
        }
        return (text, verified)
    }

    static func checkText(_ text: String) throws {
        guard text.hasSuffix("\n") else { throw TrialGateError(.badNote, "note text must end with a newline") }
        if text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" }) {
            throw TrialGateError(.badNote, "note text may not contain control characters")
        }
    }
}

/// A C2SP `tlog-checkpoint`: origin, tree size and root hash, one per line.
public struct Checkpoint: Sendable, Equatable {
    public let origin: String
    public let size: Int64
    public let root: [UInt8]

    public init(origin: String, size: Int64, root: [UInt8]) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text that is signed.
    public var text: String { "\(origin)\n\(size)\n\(Data(root).base64EncodedString())\n" }

    /// Reads a checkpoint's note text (extension lines are allowed and ignored).
    public init(text: String) throws {
        let lines = text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast().map { Substring($0) }
        guard lines.count >= 3, text.hasSuffix("\n") else { throw TrialGateError(.badCheckpoint, "a checkpoint has an origin, a size and a root hash line") }
        let sizeText = String(lines[1])
        guard !lines[0].isEmpty, let size = Int64(sizeText), size >= 0, sizeText == String(size) else {
            throw TrialGateError(.badCheckpoint, "checkpoint size \"\(sizeText)\" is not a decimal number without leading zeros")
        }
        guard let root = Data(base64Encoded: String(lines[2])).map(Array.init), root.count == 32 else {
            throw TrialGateError(.badCheckpoint, "checkpoint root \"\(lines[2])\" is not a base64 SHA-256 hash")
        }
        if lines.dropFirst(3).contains(where: \.isEmpty) { throw TrialGateError(.badCheckpoint, "checkpoint extension lines must be non-empty") }
        self.init(origin: String(lines[0]), size: size, root: root)
    }

    /// Signs this checkpoint as a note.
    public func signed(by signers: [NoteSigner]) throws -> String { try SignedNote.sign(text, by: signers) }

    /// Opens and reads a signed checkpoint.
    public static func open(_ note: String, keys: [NoteVerifierKey]) throws -> (checkpoint: Checkpoint, signedBy: [NoteVerifierKey]) {
        let (text, by) = try SignedNote.open(note, keys: keys)
        return (try Checkpoint(text: text), by)
    }
}
