import NIOCore
import NIOSSL
import TrialGateCore
import TrialGateService

/// The TLS the server accepts and the client offers: TLS 1.2 or 1.3, and in TLS 1.2 only ECDHE key exchange with
/// AEAD ciphers (AES-GCM, ChaCha20-Poly1305).
///
/// TLS 1.0 and 1.1 are deprecated by RFC 8996, and RFC 9325 §4.2 recommends against the CBC suites (their
/// MAC-then-encrypt construction is what padding-oracle attacks such as Lucky Thirteen exploit) and requires forward
/// secrecy. TLS 1.3 (RFC 8446) defines AEAD suites only, and BoringSSL does not let them be narrowed further.
public enum TLSPolicy {
    /// The TLS 1.2 suites allowed, strongest key exchange first; ECDSA (and Ed25519) or RSA certificates.
    public static let tls12Suites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// The signatures the client accepts from a server. BoringSSL leaves Ed25519 out unless asked, and the SHA-1 ones
    /// stay out (RFC 9155).
    static let clientSignatureAlgorithms: [SignatureAlgorithm] = [
        .ed25519, .ecdsaSecp256R1Sha256, .ecdsaSecp384R1Sha384, .ecdsaSecp521R1Sha512,
        .rsaPssRsaeSha256, .rsaPssRsaeSha384, .rsaPssRsaeSha512, .rsaPkcs1Sha256, .rsaPkcs1Sha384, .rsaPkcs1Sha512,
    ]

    /// Applies the version floor and the suites to `configuration`.
    static func harden(_ configuration: inout TLSConfiguration) {
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuiteValues = tls12Suites
    }

    /// The server's configuration for a PEM certificate chain and private key.
    public static func server(certificatePath: String, keyPath: String) throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { NIOSSLCertificateSource.certificate($0) }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem)))
        harden(&tls)
        return tls
    }

    /// The server's TLS context for `--tls-cert` and `--tls-key`: nil with neither, refused with only one, or with files
    /// that do not load.
    public static func serverContext(certificatePath: String?, keyPath: String?) throws -> NIOSSLContext? {
        switch (certificatePath, keyPath) {
        case (let cert?, let key?):
            do { return try NIOSSLContext(configuration: server(certificatePath: cert, keyPath: key)) } catch {
                throw TrialGateError(.tlsConfig, "cannot load the TLS certificate \(cert) or key \(key): \(error)")
            }
        case (nil, nil): return nil
        default: throw TrialGateError(.tlsConfig, "TLS needs both --tls-cert and --tls-key")
        }
    }

    /// The address to bind for `--listen HOST:PORT`, refused when it is reachable beyond this machine and `what` (plain
    /// TCP, plain HTTP) would go unencrypted without `--insecure-plaintext`. Whether it is local is decided on the
    /// address the host resolves to, which is also the address bound, so a name such as 127.example.com or
    /// localhost.example.com is not taken for loopback.
    public static func listenAddress(host: String, port: Int, shownAs listen: String, encrypted: Bool, allowPlaintext: Bool,
                                     what: String) throws -> SocketAddress {
        let address: SocketAddress
        do { address = try SocketAddress.makeAddressResolvingHost(host, port: port) } catch {
            throw TrialGateError(.listenFailed, "cannot resolve the --listen host \(LogText.quoted(host)): \(error)")
        }
        if !address.isLoopback, !encrypted, !allowPlaintext {
            throw TrialGateError(.insecureListen,
                "refusing \(what) on \(listen) (\(address.ipAddress ?? "?")), which is reachable beyond this machine: give --tls-cert and --tls-key, or --insecure-plaintext")
        }
        return address
    }
}
