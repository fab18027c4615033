@preconcurrency import Crypto
import TrialGateCore
import Foundation

/// The trial's Ed25519 signing key (RFC 8032), stored as a PKCS#8 PEM file (RFC 8410) readable by its owner only.
public struct TrialKey: Sendable {
    // RFC 8410 §7 / §4: fixed DER prefixes for Ed25519 PKCS#8 private keys and SubjectPublicKeyInfo.
    static let pkcs8Prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
    static let spkiPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    private nonisolated(unsafe) let key: Curve25519.Signing.PrivateKey

    /// A fresh random key.
    public static func generate() -> TrialKey { TrialKey(key: Curve25519.Signing.PrivateKey()) }

    /// A key from its 32-byte RFC 8032 seed.
    public init(seed: [UInt8]) throws {
        do { key = try Curve25519.Signing.PrivateKey(rawRepresentation: seed) } catch {
            throw TrialGateError(.badKey, "an Ed25519 seed is 32 bytes, got \(seed.count)")
        }
    }

    private init(key: Curve25519.Signing.PrivateKey) { self.key = key }

    /// The raw 32-byte public key.
    public var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }

    /// The public key's identity: the first 8 bytes of SHA-256 over its SubjectPublicKeyInfo DER, in hex.
    public var keyID: String { Self.keyID(publicKey: publicKey) }

    /// The key id of a raw public key.
    public static func keyID(publicKey: [UInt8]) -> String {
        String(Digest.sha256Hex(spkiPrefix + publicKey).prefix(16))
    }

    /// Signs `message` (Ed25519, RFC 8032 §5.1.6; deterministic).
    public func sign(_ message: [UInt8]) -> [UInt8] {
        // Signing with a valid key cannot fail in practice; crash loudly rather than emit an unsigned decision.
        guard let s = try? key.signature(for: message) else { preconditionFailure("Ed25519 signing failed") }
        return Array(s)
    }

    /// The PKCS#8 PEM text of the private key.
    public var privateKeyPEM: String {
        Self.pem("PRIVATE KEY", Self.pkcs8Prefix + Array(key.rawRepresentation))
    }

    /// The SubjectPublicKeyInfo PEM text of the public key, as `openssl pkeyutl -pubin` reads it.
    public var publicKeyPEM: String { Self.publicKeyPEM(publicKey) }

    /// The SubjectPublicKeyInfo PEM of a raw public key.
    public static func publicKeyPEM(_ publicKey: [UInt8]) -> String { pem("PUBLIC KEY", spkiPrefix + publicKey) }

    static func pem(_ label: String, _ der: [UInt8]) -> String {
        let b64 = Data(der).base64EncodedString()
        var lines = ["-----BEGIN \(label)-----"]
        var rest = Substring(b64)
        while !rest.isEmpty { lines.append(String(rest.prefix(64))); rest = rest.dropFirst(64) }
        lines.append("-----END \(label)-----")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The raw 32-byte key of a SubjectPublicKeyInfo PEM (RFC 8410).
    public static func publicKey(pem text: String) throws -> [UInt8] {
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        guard text.contains("-----BEGIN PUBLIC KEY-----"), let der = Data(base64Encoded: body).map(Array.init),
              der.count == spkiPrefix.count + 32, Array(der.prefix(spkiPrefix.count)) == spkiPrefix else {
            throw TrialGateError(.badKey, "not an Ed25519 SubjectPublicKeyInfo PEM")
        }
        return Array(der.suffix(32))
    }

    /// Reads a PKCS#8 PEM private key.
    public init(pem text: String) throws {
        let body = text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("-----") }.joined()
        guard text.contains("-----BEGIN PRIVATE KEY-----"), let der = Data(base64Encoded: String(body)).map(Array.init),
            der.count == 48, Array(der.prefix(16)) == Self.pkcs8Prefix
        else { throw TrialGateError(.badKey, "not an Ed25519 PKCS#8 PEM private key") }
        try self.init(seed: Array(der.suffix(32)))
    }

    /// Writes the key to `path` with mode 0600, refusing to overwrite an existing file.
    public func write(to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            throw TrialGateError(.keyUnwritable, "cannot create key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(privateKeyPEM.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw TrialGateError(.keyUnwritable, "cannot write key file \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Loads the key at `path`, refusing a file that group or others may read.
    public static func load(path: String) throws -> TrialKey {
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw TrialGateError(.keyUnreadable, "cannot read key file \(path): \(String(cString: strerror(errno)))")
        }
        if st.st_mode & 0o077 != 0 {
            throw TrialGateError(.keyInsecure,
                "key file \(path) is readable by others (mode \(String(st.st_mode & 0o777, radix: 8))); run: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw TrialGateError(.keyUnreadable, "cannot read key file \(path)")
        }
        do { return try TrialKey(pem: text) } catch let e as TrialGateError {
            throw TrialGateError(e.code, "\(path): \(e.message)")
        }
    }
}

/// Ed25519 signature checks against raw public keys.
public enum SignatureCheck {
    /// Whether `signature` is a valid Ed25519 signature of `message` by `publicKey` (RFC 8032 §5.1.7).
    public static func verify(signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: publicKey) else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

extension TrialKey: Equatable {
    /// Keys are equal when their public keys are (a private key determines its public key).
    public static func == (a: TrialKey, b: TrialKey) -> Bool { a.publicKey == b.publicKey }
}
