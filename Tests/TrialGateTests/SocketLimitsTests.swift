import Foundation
import NIOCore
import Testing
@testable import TrialGateServer
import TrialGateService

/// The socket's limits as pure values: sources, the failure limiter, the connection table, the deadlines, log text.
@Suite("Socket limits")
struct SocketLimitsTests {
    static func address(_ ip: String) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: 1) }

    @Test("loopback and Unix peers are one source; IPv4 is keyed by address and IPv6 by /64", arguments: [
        ("127.0.0.1", "local"), ("127.200.3.4", "local"), ("::1", "local"), ("::ffff:127.9.9.9", "local"),
        ("10.1.2.3", "10.1.2.3"), ("::ffff:10.1.2.3", "10.1.2.3"), ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"), ("0.0.0.0", "0.0.0.0"), ("::", "0:0:0:0::/64"),
    ])
    func sources(ip: String, source: String) throws {
        #expect(PeerSource(try Self.address(ip)).description == source)
        #expect(try Self.address(ip).isLoopback == (source == "local"))
    }

    @Test("a Unix-socket peer is local")
    func unixPeer() throws {
        #expect(PeerSource(nil) == .local)
        #expect(PeerSource(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")) == .local)
        #expect(try !SocketAddress(unixDomainSocketPath: "/tmp/x.sock").isLoopback)
    }

    @Test("the failure limiter counts within its window, forgets after it, and never grows past its capacity")
    func limiter() {
        var limiter = AuthFailureLimiter(limit: 3, window: .seconds(60), capacity: 100)
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        let first = limiter.recordFailure(from: .local, now: t0)
        let second = limiter.recordFailure(from: .local, now: t0 + .seconds(1))
        let third = limiter.recordFailure(from: .local, now: t0 + .seconds(2))
        #expect(!first && !second && third)
        #expect(limiter.isLimited(.local, now: t0 + .seconds(59)))
        #expect(!limiter.isLimited(.local, now: t0 + .seconds(62)), "the oldest failures left the window")
        #expect(!limiter.isLimited(.ipv4(1), now: t0))
        // A flood from 10,000 addresses: the table stays within capacity, and a recent offender is still limited.
        for i in 0..<10_000 { _ = limiter.recordFailure(from: .ipv4(UInt32(i)), now: t0 + .seconds(3)) }
        #expect(limiter.count <= 100)
        for _ in 0..<3 { _ = limiter.recordFailure(from: .ipv6(7), now: t0 + .seconds(4)) }
        #expect(limiter.isLimited(.ipv6(7), now: t0 + .seconds(5)))
        // Once the window has passed, pruning empties the table.
        limiter.prune(now: t0 + .seconds(120))
        #expect(limiter.count == 0)
    }

    @Test("the connection table evicts the oldest unauthenticated connection, by source first, and never a logged-in one")
    func table() {
        var t = ConnectionTable<Int>(limits: .init(total: 6, unauthenticated: 4, perSource: 2))
        #expect(t.admit(1, from: .ipv4(1)) == .admitted(evicting: []))
        #expect(t.admit(2, from: .ipv4(1)) == .admitted(evicting: []))
        // A third from the same address pushes out that address's oldest.
        #expect(t.admit(3, from: .ipv4(1)) == .admitted(evicting: [1]))
        #expect(t.admit(4, from: .ipv4(2)) == .admitted(evicting: []))
        #expect(t.admit(5, from: .ipv4(3)) == .admitted(evicting: []))
        // The unauthenticated cap (4) is reached: the oldest of all goes.
        #expect(t.admit(6, from: .ipv4(4)) == .admitted(evicting: [2]))
        #expect(t.unauthenticatedCount == 4)
        for id in [3, 4, 5, 6] { t.authenticated(id) }
        #expect(t.unauthenticatedCount == 0)
        #expect(t.admit(7, from: .ipv4(5)) == .admitted(evicting: []))
        #expect(t.admit(8, from: .ipv4(5)) == .admitted(evicting: []))
        // Full (6), one of them unauthenticated... two: 7 and 8. The oldest of those makes room.
        #expect(t.admit(9, from: .ipv4(6)) == .admitted(evicting: [7]))
        t.authenticated(8)
        t.authenticated(9)
        // Full of logged-in users: refused.
        #expect(t.admit(10, from: .ipv4(7)) == .refused)
        t.remove(3)
        #expect(t.admit(10, from: .ipv4(7)) == .admitted(evicting: []))
        #expect(t.count == 6)
    }

    @Test("this machine is one source, held to the unauthenticated cap rather than the per-source one")
    func localSource() {
        var t = ConnectionTable<Int>(limits: .init(total: 10, unauthenticated: 4, perSource: 2))
        for id in 0..<4 { #expect(t.admit(id, from: .local) == .admitted(evicting: [])) }
        #expect(t.admit(4, from: .local) == .admitted(evicting: [0]))
        #expect(t.admit(5, from: .ipv4(9)) == .admitted(evicting: [1]))
    }

    @Test("only complete requests reset the idle clock; the authentication deadline does not move")
    func deadlines() {
        let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000_000)
        var d = ConnectionDeadlines(opened: t0, authTimeout: .seconds(10), idleTimeout: .seconds(3))
        #expect(d.check(at: t0, idleExempt: false) == .wait(until: t0 + .seconds(3)))
        d.active(at: t0 + .seconds(2))
        #expect(d.check(at: t0 + .seconds(4), idleExempt: false) == .wait(until: t0 + .seconds(5)))
        #expect(d.check(at: t0 + .seconds(5), idleExempt: false) == .expired(.idle))
        #expect(d.check(at: t0 + .seconds(9), idleExempt: true) == .wait(until: t0 + .seconds(10)))
        #expect(d.check(at: t0 + .seconds(10), idleExempt: true) == .expired(.authentication))
        d.authenticated()
        #expect(d.check(at: t0 + .seconds(10), idleExempt: true) == .wait(until: t0 + .seconds(13)))
    }

    @Test("untrusted text is quoted with every line-breaking and control character escaped", arguments: [
        ("plain", #""plain""#), ("a\nb", #""a\nb""#), ("a\r\n", #""a\r\n""#), ("q\"\\", #""q\"\\""#),
        ("\u{1B}[2J", #""\u001b[2J""#), ("x\u{85}y\u{2028}z\u{2029}", #""x\u0085y\u2028z\u2029""#),
        ("\u{202E}evil", #""\u202eevil""#), ("é ✓", #""é ✓""#), ("\u{0}\u{7F}", #""\u0000\u007f""#),
    ])
    func logText(text: String, quoted: String) {
        #expect(LogText.quoted(text) == quoted)
    }
}
