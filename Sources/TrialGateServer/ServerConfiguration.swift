import NIOCore

/// How a `LineServer` listens and what it serves.
public struct ServerConfiguration: Sendable {
    /// Where to listen.
    public enum Endpoint: Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        public var description: String {
            switch self {
            case .tcp(let host, let port): "\(host):\(port)"
            case .unix(let path): "unix:\(path)"
            }
        }

        /// Whether only this machine can reach the endpoint.
        public var isLocal: Bool {
            switch self {
            case .unix: return true
            case .tcp(let host, _): return host == "localhost" || host == "::1" || host.hasPrefix("127.")
            }
        }
    }

    public var endpoint: Endpoint
    public var storePath: String
    public var keyPath: String
    public var usersPath: String
    /// PEM certificate chain and private key; required to listen beyond loopback.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Lets plain TCP listen beyond loopback. Off unless the operator says so explicitly.
    public var allowInsecurePlaintext = false
    /// The longest request line accepted, in bytes.
    public var maxLineBytes = 64 * 1024
    /// A connection that sends nothing for this long is closed (subscribers get heartbeats instead).
    public var idleTimeout: TimeAmount = .seconds(300)
    public var maxConnections = 512
    /// Threads answering read commands, each with its own SQLite connection.
    public var readers = 2
    /// The most commands one group commit takes.
    public var maxBatch = 512
    /// Failed authentications from one peer within `authFailureWindow` seconds before it is refused.
    public var authFailureLimit = 5
    public var authFailureWindow: Double = 60
    /// Events the log grows by between the report snapshots the server saves on its own (0: never).
    public var reportSnapshotInterval: Int64 = 100_000
    /// How often the server looks for account changes in the log (a revoked subscription is closed within this).
    public var accountPollInterval: Double = 0.25
    /// How often an idle subscription gets a heartbeat line.
    public var heartbeatInterval: TimeAmount = .seconds(15)

    public init(endpoint: Endpoint, storePath: String, keyPath: String, usersPath: String) {
        self.endpoint = endpoint
        self.storePath = storePath
        self.keyPath = keyPath
        self.usersPath = usersPath
    }
}
