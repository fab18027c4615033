import Foundation
import Logging
import NIOConcurrencyHelpers
import Testing
import TrialGateCore
@testable import TrialGateServer
import TrialGateService

/// Attacks on the socket itself, before and after login: each test plays one and checks the bound that stops it.
@Suite("Socket hardening", .serialized)
struct SocketHardeningTests {
    /// The process's resident set in MiB: the server runs in this process.
    static func residentMiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
    }

    /// Sends `total` bytes of `x\n` without ever reading a reply, for at most `seconds`; returns the bytes the kernel took.
    static func floodWithoutReading(_ c: LineClient, total: Int, seconds: Double) -> Int {
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(c.socketDescriptor, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let chunk = [UInt8](repeating: 0, count: 64 * 1024).enumerated().map { $0.offset % 2 == 0 ? UInt8(ascii: "x") : 0x0A }
        let end = Date().addingTimeInterval(seconds)
        var sent = 0
        while sent < total, Date() < end {
            let n = chunk.withUnsafeBytes { send(c.socketDescriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { sent += n } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR { break }
        }
        return sent
    }

    @Test("a logged-in client that pipelines 6 MB of bad lines and never reads its replies does not grow the server's memory")
    func unreadRepliesAreBounded() async throws {
        let s = try await ServerFixture()
        let before = Self.residentMiB()
        let (sent, during): (Int, Int) = try await onThread {
            let c = try s.client("sam")
            let sent = Self.floodWithoutReading(c, total: 6 << 20, seconds: 8)
            Thread.sleep(forTimeInterval: 0.5)
            return (sent, Self.residentMiB())
        }
        try await Task.sleep(for: .milliseconds(300))
        let after = Self.residentMiB()
        // Before the bound, 6 MB of `x\n` made ~300 MB of replies held for a client that never read them.
        #expect(during - before < 96, "RSS \(before) → \(during) MiB while \(sent) bytes were sent")
        #expect(after - before < 96, "RSS \(before) → \(after) MiB after the connection closed")
        // The server still answers others.
        let head = try await onThread { try reply(s.client("rita").request(#"{"id":1,"cmd":"head"}"#)) }
        #expect(head["ok"] == true)
        try await s.stop()
    }

    @Test("an unauthenticated client that sends 4 MB of bad lines without reading is cut off after a few, memory flat")
    func unauthenticatedFloodIsCutOff() async throws {
        let s = try await ServerFixture()
        let before = Self.residentMiB()
        let (sent, lines): (Int, [String]) = try await onThread {
            let c = try s.client(nil)
            let sent = Self.floodWithoutReading(c, total: 4 << 20, seconds: 5)
            var lines: [String] = []
            while let line = try? c.readLine() { lines.append(line) }
            return (sent, lines)
        }
        #expect(Self.residentMiB() - before < 64, "\(sent) bytes sent")
        #expect(lines.count == 11, "\(lines.count) replies")
        #expect(lines.dropLast().allSatisfy { $0.contains("invalid_json") })
        #expect(lines.last?.contains("too_many_errors") == true, "\(lines.last ?? "")")
        try await s.stop()
    }

    @Test("a client that has not authenticated within the deadline is told so and closed, however it trickles")
    func authenticationDeadline() async throws {
        let s = try await ServerFixture { $0.authTimeout = .milliseconds(400) }
        let (lines, elapsed): ([String], Double) = try await onThread {
            let c = try s.client(nil)
            let start = Date()
            let trickler = Thread {
                for byte in Array(#"{"cmd":"auth","token":""#.utf8) {
                    if (try? c.send([byte])) == nil { return }
                    Thread.sleep(forTimeInterval: 0.05)
                }
            }
            trickler.start()
            var lines: [String] = []
            while let line = try c.readLine() { lines.append(line) }
            return (lines, Date().timeIntervalSince(start))
        }
        #expect(lines.count == 1 && lines[0].contains(#""code":"auth_timeout""#), "\(lines)")
        #expect(elapsed < 2, "closed after \(elapsed) s")
        try await s.stop()
    }

    @Test("idle sockets that never log in do not lock honest users out of a small server")
    func idleSocketsDoNotTakeEverySlot() async throws {
        let s = try await ServerFixture { $0.maxConnections = 20 }
        let result: JSONValue = try await onThread {
            var squatters: [LineClient] = []
            for _ in 0..<40 { if let c = try? LineClient(connect: s.address) { squatters.append(c) } }
            Thread.sleep(forTimeInterval: 0.3)
            let honest = try s.client("rita")
            let r = try reply(honest.request(#"{"id":1,"cmd":"head"}"#))
            _ = squatters
            return r
        }
        #expect(result["ok"] == true, "\(result)")
        try await s.stop()
    }

    @Test("a trickle of bytes that never completes a request does not keep a connection open past the idle timeout")
    func trickleDoesNotResetIdleTimeout() async throws {
        let s = try await ServerFixture { $0.idleTimeout = .milliseconds(600) }
        let closedAfter: Double? = try await onThread {
            let c = try s.client("rita")
            let start = Date()
            for byte in Array(#"{"cmd":"head","padding":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: 40) {
                if (try? c.send([byte])) == nil { return Date().timeIntervalSince(start) }
                Thread.sleep(forTimeInterval: 0.1)
            }
            return nil
        }
        #expect(closedAfter != nil && closedAfter! < 3, "closed after \(String(describing: closedAfter)) s")
        try await s.stop()
    }

    @Test("a cmd carrying newlines and control characters cannot forge a line in the server's log")
    func logInjection() async throws {
        let log = CapturedLog()
        let s = try await ServerFixture(logger: Logger(label: "trialgate.server", factory: { _ in log }))
        let forged = "x\n2026-11-30T00:00:00+0000 info trialgate.server : peer=10.0.0.1:1 principal=adam role=admin [TrialGateServer] authenticated"
        try await onThread {
            let c = try s.client(nil)
            for cmd in [forged, forged.replacingOccurrences(of: "\n", with: "\r"), "a\u{1B}[2Jb\u{0}c\u{2028}d\u{85}e"] {
                _ = try c.request(CanonicalJSON.string(["cmd": .string(cmd)]))
            }
            _ = try c.request(CanonicalJSON.string(["cmd": "auth", "token": .string("bad\ntoken")]))
            let alice = try s.client("alice")
            _ = try alice.request(CanonicalJSON.string(["cmd": "register", "candidate": .string("P\n[TrialGateServer] authenticated"), "site": "SITE-B"]))
        }
        try await s.stop()
        let lines = log.rendered.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == log.count, "each log record is exactly one line")
        for line in lines {
            #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0.value == 0x85 || $0.value == 0x2028 || $0.value == 0x2029 },
                    "control character in: \(line)")
            #expect(!line.hasPrefix("2026-11-30T00:00:00"), "forged line: \(line)")
        }
        #expect(log.messages.filter { $0 == "authenticated" }.count == 1, "only alice authenticated: \(log.messages)")
    }

    @Test("graceful shutdown under a pipelining client: every line it gets back is a reply, and it sees an end, not a reset")
    func pipelinedShutdown() async throws {
        let s = try await ServerFixture()
        let client = try await onThread { try s.client("rita") }
        let outcome = Task {
            try await onThread { () -> (replies: Int, refused: Int, bad: [String], error: String?) in
                let sender = Thread {
                    let line = Array(#"{"id":1,"cmd":"head"}"#.utf8) + [0x0A]
                    let batch = Array([[UInt8]](repeating: line, count: 200).joined())
                    while (try? client.send(batch)) != nil {}
                }
                sender.start()
                var replies = 0, refused = 0
                var bad: [String] = []
                do {
                    while let line = try client.readLine() {
                        let r = try? reply(line)
                        if r?["ok"] == true { replies += 1 } else if r?["error"]?["code"] == "shutting_down" { refused += 1 } else { bad.append(line) }
                    }
                } catch {
                    return (replies, refused, bad, "\(error)")
                }
                return (replies, refused, bad, nil)
            }
        }
        try await Task.sleep(for: .milliseconds(400))
        try await s.stop()
        let r = try await outcome.value
        #expect(r.replies > 0)
        #expect(r.refused > 0, "requests read but not run are answered shutting_down")
        #expect(r.bad.isEmpty, "\(r.bad.prefix(3))")
        #expect(r.error == nil, "the connection ended with \(r.error ?? "")")
    }

    @Test("failed logins are counted for all of loopback together, so rotating 127.x.y.z source addresses does not dodge the limit")
    func rotatingLoopbackDoesNotDodgeTheLimit() async throws {
        let s = try await ServerFixture { $0.authFailureLimit = 3 }
        let codes: [String] = try await onThread {
            try (2..<7).map { i in
                let c = try s.client(nil, from: "127.0.0.\(i)")
                return try reply(c.request(#"{"cmd":"auth","token":"wrong"}"#))["error"]?["code"]?.stringValue ?? ""
            }
        }
        #expect(codes == ["auth_failed", "auth_failed", "auth_failed", "rate_limited", "rate_limited"], "\(codes)")
        try await s.stop()
    }

    @Test("a flood of bad tokens from a shared address does not lock out a user who has the right token")
    func floodDoesNotLockOutValidToken() async throws {
        let s = try await ServerFixture { $0.authFailureLimit = 3 }
        let r: JSONValue = try await onThread {
            for _ in 0..<10 { _ = try? s.client(nil).request(#"{"cmd":"auth","token":"wrong"}"#) }
            let c = try s.client(nil)
            return try reply(c.request(#"{"cmd":"auth","token":"\#(s.tokens["rita"]!)"}"#))
        }
        #expect(r["ok"] == true, "\(r)")
        try await s.stop()
    }

    @Test("whether a listen host is local is decided on the address it resolves to, not on how its name begins")
    func listenHostIsResolved() throws {
        let f = try Fixture()
        try f.key.write(to: f.storePath + ".key")
        try Data(#"{"users":[]}"#.utf8).write(to: URL(fileURLWithPath: f.storePath + ".users.json"))
        func code(_ host: String) -> String? {
            let config = ServerConfiguration(endpoint: .tcp(host: host, port: 0), storePath: f.storePath,
                                             keyPath: f.storePath + ".key", usersPath: f.storePath + ".users.json")
            let server = LineServer(configuration: config, logger: Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }))
            do { _ = try server.prepare(); return nil } catch { return TrialGateError(error).code.rawValue }
        }
        // Names that merely begin like loopback are not local: they resolve to some other address (insecure_listen)
        // or, here without DNS, to none (listen_failed); either way the server does not start in plain text.
        for host in ["127.evil.example.com", "localhost.attacker", "127.0.0.1.invalid"] {
            #expect(code(host) == "insecure_listen" || code(host) == "listen_failed", "\(host)")
        }
        for host in ["127.0.0.1", "127.3.4.5", "::1", "0:0:0:0:0:0:0:1", "localhost"] {
            #expect(code(host) == nil, "\(host)")
        }
    }

    // SECLEVEL=0 lets this openssl offer what its own defaults refuse, so that it is the server that decides.
    @Test("TLS 1.0, 1.1 and CBC suites are refused; TLS 1.2 with an AEAD suite and TLS 1.3 are accepted", arguments: [
        (["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"], false), (["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], false),
        (["-tls1_2", "-cipher", "AES128-SHA:@SECLEVEL=0"], false), (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0"], false),
        (["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384:@SECLEVEL=0"], false),
        (["-tls1_2"], true), (["-tls1_3"], true),
    ])
    func tlsVersionsAndSuites(flags: [String], accepted: Bool) async throws {
        let tls = try TestCertificate()
        let s = try await ServerFixture { $0.tlsCertificatePath = tls.certificate; $0.tlsKeyPath = tls.key }
        let port = String(s.address.split(separator: ":").last!)
        let (status, output) = try shell(["timeout", "10", "openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", tls.certificate] + flags,
                                         input: "")
        let established = status == 0 && output.contains("Cipher is") && !output.contains("Cipher is (NONE)")
        #expect(established == accepted, "\(flags): \(output.suffix(600))")
        try await s.stop()
    }
}

extension SocketHardeningTests {
    @Test("the TLS client trusts a given CA, or a pinned leaf certificate, and sends nothing to a server that is neither",
          arguments: ["prime256v1", "ed25519"])
    func tlsClientTrust(key: String) async throws {
        let tls = try TestCertificate(keyType: key), stranger = try TestCertificate(keyType: key)
        let log = CapturedLog()
        let s = try await ServerFixture(logger: Logger(label: "trialgate.server", factory: { _ in log })) {
            $0.tlsCertificatePath = tls.certificate
            $0.tlsKeyPath = tls.key
        }
        let (status, digest) = try shell(["sh", "-c", "openssl x509 -in '\(tls.certificate)' -outform DER | sha256sum"])
        #expect(status == 0)
        let pin = String(digest.prefix(64))
        let results: [String] = try await onThread {
            func session(_ trust: TLSLineClient.Trust) -> String {
                do {
                    let c = try TLSLineClient(connect: s.address, trust: trust)
                    _ = try c.request(#"{"cmd":"auth","token":"\#(s.tokens["rita"]!)"}"#)
                    return try reply(c.request(#"{"id":1,"cmd":"head"}"#))["ok"] == true ? "ok" : "refused"
                } catch {
                    return "failed"
                }
            }
            return [session(.init(caPath: tls.certificate)), session(.init(pinnedSHA256: pin)),
                    session(.init(pinnedSHA256: pin.uppercased().enumerated().map { ($0.offset > 0 && $0.offset % 2 == 0 ? ":" : "") + String($0.element) }.joined())),
                    session(.init(caPath: tls.certificate, pinnedSHA256: pin)),
                    session(.init(caPath: stranger.certificate)), session(.init(pinnedSHA256: String(repeating: "ab", count: 32))),
                    session(.init(caPath: tls.certificate, pinnedSHA256: String(repeating: "ab", count: 32)))]
        }
        #expect(results == ["ok", "ok", "ok", "ok", "failed", "failed", "failed"], "\(results)")
        try await s.stop()
        // The failed sessions never reached the protocol: only the four good ones authenticated, nothing else was said.
        #expect(log.messages.filter { $0 == "authenticated" }.count == 4)
        #expect(!log.messages.contains("authentication failed") && !log.messages.contains("request before authentication"))
    }
}

/// A throwaway self-signed certificate for 127.0.0.1, made by openssl.
final class TestCertificate: @unchecked Sendable {
    let dir = TempDir()
    var certificate: String { dir.path + "/cert.pem" }
    var key: String { dir.path + "/key.pem" }

    /// - Parameter keyType: an EC curve name, or `ed25519`.
    init(keyType: String = "prime256v1") throws {
        let algorithm = keyType == "ed25519" ? ["ed25519"] : ["ec", "-pkeyopt", "ec_paramgen_curve:\(keyType)"]
        let (status, output) = try shell(["openssl", "req", "-x509", "-newkey"] + algorithm + [
                                          "-keyout", key, "-out", certificate, "-days", "1", "-nodes", "-subj", "/CN=localhost",
                                          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        guard status == 0 else { throw TrialGateError(.internal, "openssl req failed: \(output)") }
    }
}

/// Keeps every log record and renders it as swift-log's stream handler does, one record per line.
final class CapturedLog: LogHandler, @unchecked Sendable {
    private let records = NIOLockedValueBox<[(Logger.Level, String, Logger.Metadata)]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.withLockedValue { $0.append((event.level, event.message.description, self.metadata.merging(event.metadata ?? [:]) { $1 })) }
    }

    var count: Int { records.withLockedValue { $0.count } }
    var messages: [String] { records.withLockedValue { $0.map(\.1) } }

    /// What `StreamLogHandler` would have written: `TIME LEVEL LABEL : k=v … [SOURCE] MESSAGE`, a newline after each.
    var rendered: String {
        records.withLockedValue { records in
            records.map { level, message, metadata in
                let pairs = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
                return "2026-11-30T09:00:00+0000 \(level) trialgate.server : \(pairs) [TrialGateServer] \(message)\n"
            }.joined()
        }
    }
}
