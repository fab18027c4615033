import NIOCore

/// Where a connection comes from, as far as the per-address limits care: the unit an attacker cannot cheaply multiply.
///
/// An IPv4 peer is its /32. An IPv6 peer is its /64, because one host is routinely given a whole /64 (RFC 4291 §2.5.1,
/// RFC 8981 temporary addresses) and can rotate through it at will. Every loopback address (127.0.0.0/8, ::1,
/// ::ffff:127.0.0.0/104) and every Unix-socket peer is one source, `local`: they are all this machine, and counting
/// 127.0.0.2 apart from 127.0.0.3 would let one local process dodge a limit by changing its source address.
public enum PeerSource: Hashable, Sendable, CustomStringConvertible {
    case local
    case ipv4(UInt32)
    /// The first 64 bits of the address.
    case ipv6(UInt64)

    /// The source of a connected peer; nil (no address, e.g. a Unix socket) is local.
    public init(_ address: SocketAddress?) {
        switch address {
        case .v4(let a):
            let ip = UInt32(bigEndian: a.address.sin_addr.s_addr)
            self = ip >> 24 == 127 ? .local : .ipv4(ip)
        case .v6(let a):
            let bytes = withUnsafeBytes(of: a.address.sin6_addr) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 {
                self = .local
            } else if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                // An IPv4 peer seen through a dual-stack socket is that IPv4 peer.
                let ip = bytes[12..<16].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                self = ip >> 24 == 127 ? .local : .ipv4(ip)
            } else {
                self = .ipv6(bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
            }
        default:
            self = .local
        }
    }

    public var description: String {
        switch self {
        case .local: return "local"
        case .ipv4(let ip): return "\(ip >> 24).\(ip >> 16 & 0xFF).\(ip >> 8 & 0xFF).\(ip & 0xFF)"
        case .ipv6(let prefix):
            let groups = (0..<4).map { String(prefix >> (48 - 16 * UInt64($0)) & 0xFFFF, radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        }
    }
}

extension SocketAddress {
    var isIP: Bool {
        switch self {
        case .v4, .v6: return true
        default: return false
        }
    }

    /// Whether the address is a loopback address (127.0.0.0/8, ::1, or an IPv4-mapped 127.x): reachable from this
    /// machine only. Decided on the address bytes, never on how a host name is spelled.
    public var isLoopback: Bool {
        isIP && PeerSource(self) == .local
    }
}

/// A connected peer: its address as logged, and its source for the limits.
struct Peer: CustomStringConvertible, Sendable {
    /// `ip:port`, or `unix`. Built from the address bytes, so it holds no text a client chose.
    let name: String
    let source: PeerSource

    init(name: String, source: PeerSource) {
        self.name = name
        self.source = source
    }

    init(_ address: SocketAddress?) {
        switch address {
        case .some(let a) where a.isIP:
            name = "\(a.ipAddress ?? "?"):\(a.port ?? 0)"
        default:
            name = "unix"
        }
        source = PeerSource(address)
    }

    var description: String { name }
}
