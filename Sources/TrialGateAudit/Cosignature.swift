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

    /// `keys`, each witness once: the signed message does not include the witness's name, so one key under two names
    /// would count one witness twice towards a quorum. Two keys of one name, or one key under two names, are refused.
    public static func distinct(_ keys: [CosignerKey]) throws -> [CosignerKey] {
        for (i, k) in keys.enumerated() {
            if let other = keys[..<i].first(where: { $0.name == k.name || $0.publicKey == k.publicKey }) {
                throw TrialGateError(.badVKey, other.name == k.name ? "the witness \(k.name) is given twice" : "\(k.name) and \(other.name) are one key: one witness, given twice")
            }
        }
        return keys
    }
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

    /// How far ahead of a verifier's clock a cosignature's time may be and still count as recent: beyond, it is a clock
    /// that is wrong (or a time chosen to stay "fresh"), and `--max-age` does not count it.
    public static let allowedClockSkew: UInt64 = 600

    /// A cosignature's time as UTC, or as POSIX seconds past the year 9999 (a time may be up to 2^63 − 1 seconds).
    public static func timeText(_ seconds: UInt64) -> String {
        seconds <= 253_402_300_799 ? UTCTimestamp(millisecondsSinceEpoch: Int64(seconds) * 1000).description : "POSIX time \(seconds)"
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
        try examine(note, cosigners: cosigners).valid
    }

    /// The cosignatures on `note` by the given cosigners: those that verify, and the names of those whose line has a
    /// trusted cosigner's name and key id but does not verify (a forged or damaged cosignature, which is not ignored).
    /// - Throws: `bad_note` when the note is not a signed note.
    public static func examine(_ note: String, cosigners: [CosignerKey]) throws -> (valid: [Verified], invalid: [String]) {
        let (text, signatures) = try SignedNote.parse(note)
        var valid: [Verified] = []
        var invalid: [String] = []
        for s in signatures {
            guard let key = cosigners.first(where: { $0.name == s.name && $0.keyID == s.keyID }) else { continue }
            guard s.signature.count == 8 + 64 else { invalid.append(key.name); continue }
            let timestamp = s.signature.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            guard timestamp <= UInt64(Int64.max),
                  SignatureCheck.verify(signature: Array(s.signature.dropFirst(8)), message: message(checkpointText: text, timestamp: timestamp),
                                        publicKey: key.publicKey) else { invalid.append(key.name); continue }
            valid.append(Verified(cosigner: key, timestamp: timestamp))
        }
        return (valid, invalid)
    }
}

/// Whether a checkpoint note carries a quorum of witness cosignatures (C2SP tlog-cosignature): at least `quorum`
/// distinct trusted witnesses whose cosignature verifies and, with a maximum age, states a time no older than that.
public struct WitnessQuorum: Sendable, Equatable {
    /// The newest verified cosignature time of each witness counted.
    public let counted: [String: UInt64]
    /// Witnesses whose newest cosignature is older than the maximum age, with its time.
    public let stale: [String: UInt64]
    /// Witnesses whose newest cosignature states a time more than `Cosignature.allowedClockSkew` ahead of `now`.
    public let future: [String: UInt64]
    /// Witnesses with a cosignature line that does not verify.
    public let invalid: [String]
    public let quorum: Int

    public var met: Bool { counted.count >= quorum && invalid.isEmpty }

    public init(note: String, witnesses: [CosignerKey], quorum: Int, maxAge: UInt64? = nil, now: UInt64) throws {
        let (valid, invalid) = try Cosignature.examine(note, cosigners: witnesses)
        var newest: [String: UInt64] = [:]
        for v in valid { newest[v.cosigner.name] = max(newest[v.cosigner.name] ?? 0, v.timestamp) }
        var counted: [String: UInt64] = [:], stale: [String: UInt64] = [:], future: [String: UInt64] = [:]
        for (name, time) in newest {
            if maxAge != nil, time > now, time - now > Cosignature.allowedClockSkew { future[name] = time }
            else if let maxAge, time < now, now - time > maxAge { stale[name] = time }
            else { counted[name] = time }
        }
        (self.counted, self.stale, self.future, self.invalid, self.quorum) = (counted, stale, future, Array(Set(invalid)).sorted(), quorum)
    }

    /// One sentence: who cosigned, who is stale or invalid, against the quorum.
    public func summary(size: Int64) -> String {
        let who = counted.keys.sorted().joined(separator: ", ")
        var text = met ? "the newest checkpoint (size \(size)) is cosigned by \(who) (quorum \(quorum))"
            : "the newest checkpoint (size \(size)) has \(counted.count) of the \(quorum) witness cosignatures required\(who.isEmpty ? "" : " (cosigned by \(who))")"
        if !stale.isEmpty {
            text += "; too old: " + stale.sorted { $0.key < $1.key }.map { "\($0.key) at \(Cosignature.timeText($0.value))" }.joined(separator: ", ")
        }
        if !future.isEmpty {
            text += "; dated ahead of this clock: " + future.sorted { $0.key < $1.key }.map { "\($0.key) at \(Cosignature.timeText($0.value))" }.joined(separator: ", ")
        }
        if !invalid.isEmpty { text += "; a cosignature that does not verify: " + invalid.joined(separator: ", ") }
        return text
    }
}

/// A maximum age as given on the command line: a whole number with a unit, `s`, `m`, `h` or `d` (`36h`, `7d`).
public enum WitnessAge {
    public static func seconds(_ text: String) throws -> UInt64 {
        let units: [Character: UInt64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        guard let unit = text.last, let scale = units[unit], let n = UInt64(text.dropLast()), n > 0, n <= 3650 * 86400 / scale else {
            throw TrialGateError(.badRequest, "--max-age takes a whole number with s, m, h or d (such as 36h or 7d), up to ten years; got \(text.prefix(40))")
        }
        return n * scale
    }
}
