import Foundation

/// A small blocking client for the line protocol over TCP or a Unix-domain socket.
///
/// For scripts, tests and `trialgate client`; it never runs on an event loop.
public final class LineClient: @unchecked Sendable {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)

    /// Connects to `host:port`, `[v6]:port` or `unix:PATH`.
    /// - Parameter source: a local IP address to connect from (TCP only), as a test or a load script that plays several
    ///   peers needs; nil lets the system choose.
    public init(connect address: String, from source: String? = nil) throws {
        if address.hasPrefix("unix:") {
            let path = String(address.dropFirst(5))
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw Self.fail("socket path too long: \(path)") }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { close(fd); throw Self.fail("cannot connect to \(address): \(String(cString: strerror(errno)))") }
            return
        }
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw Self.fail("address must be HOST:PORT or unix:PATH, got \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else { throw Self.fail("cannot resolve \(host)") }
        defer { freeaddrinfo(result) }
        fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, info.pointee.ai_protocol)
        if let source, fd >= 0 {
            var local = hints
            local.ai_family = info.pointee.ai_family
            local.ai_flags = AI_NUMERICHOST
            var bound: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(source, "0", &local, &bound) == 0, let from = bound else { close(fd); throw Self.fail("cannot use \(source) as a source address") }
            defer { freeaddrinfo(bound) }
            guard bind(fd, from.pointee.ai_addr, from.pointee.ai_addrlen) == 0 else {
                let why = String(cString: strerror(errno))
                close(fd)
                throw Self.fail("cannot bind to \(source): \(why)")
            }
        }
        guard fd >= 0, Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let why = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            throw Self.fail("cannot connect to \(address): \(why)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    private static func fail(_ message: String) -> Error { NSError(domain: "trialgate.client", code: 1, userInfo: [NSLocalizedDescriptionKey: message]) }

    /// Sends bytes as they are.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Self.fail("send failed: \(String(cString: strerror(errno)))") }
            offset += n
        }
    }

    /// Sends one line (a newline is added).
    public func send(line: String) throws { try send(Array(line.utf8) + [0x0A]) }

    /// Reads one line, or nil when the server closed the connection.
    public func readLine() throws -> String? {
        while true {
            if let nl = buffer.firstIndex(of: 0x0A) {
                let line = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return line
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 {
                if buffer.isEmpty { return nil }
                defer { buffer = [] }
                return String(decoding: buffer, as: UTF8.self)
            }
            guard n > 0 else { throw Self.fail("receive failed: \(String(cString: strerror(errno)))") }
            buffer.append(contentsOf: chunk[0..<n])
        }
    }

    /// Sends a request line and waits for its reply line.
    public func request(_ line: String) throws -> String? {
        try send(line: line)
        return try readLine()
    }

    /// Closes the sending side; the server answers what it has and then closes.
    public func finishSending() { shutdown(fd, Int32(SHUT_WR)) }

    /// The socket, for a caller that multiplexes many connections itself (the load generator).
    public var socketDescriptor: Int32 { fd }

    /// Gives up waiting on reads after `seconds`.
    public func setReceiveTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
