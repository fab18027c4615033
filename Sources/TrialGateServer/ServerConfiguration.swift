import NIOCore
import TrialGateStore
import TrialGateService

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
    }

    public var endpoint: Endpoint
    public var storePath: String
    /// On a PostgreSQL store served by several nodes: this node's writer lease (nil: no lease, as on SQLite).
    public var lease: WriterLease?
    public var keyPath: String
    public var usersPath: String
    /// PEM certificate chain and private key; required to listen beyond loopback.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Lets plain TCP listen beyond loopback. Off unless the operator says so explicitly.
    public var allowInsecurePlaintext = false
    /// The longest request line accepted, in bytes.
    public var maxLineBytes = 64 * 1024
    /// A connection that completes no request (and takes none of its replies) for this long is closed; bytes that do
    /// not finish a request do not count. Subscriptions get heartbeats instead, and a request being worked on is not idleness.
    public var idleTimeout: TimeAmount = .seconds(300)
    /// A connection that has not authenticated this long after it opened is closed.
    public var authTimeout: TimeAmount = .seconds(10)
    public var maxConnections = 512
    /// Connections not yet authenticated, in all; nil: a quarter of `maxConnections`.
    public var maxUnauthenticatedConnections: Int?
    /// Connections not yet authenticated from one source (an IPv4 address, an IPv6 /64, or this machine).
    public var maxUnauthenticatedPerSource = 16
    /// Error replies a connection may earn before it authenticates; the next one closes it.
    public var maxErrorsBeforeAuth = 10
    /// Reply bytes waiting for a client beyond which the server stops reading that client's requests (resuming
    /// at half of it). A reply is never cut, so one connection holds at most this plus its largest reply.
    public var replyBufferBytes = 64 * 1024
    /// Request bytes read ahead of the request being answered; past this the server stops reading the connection.
    public var requestBufferBytes = 64 * 1024
    /// How long a closing connection waits for the client to finish sending, so that it ends with a FIN and not a reset.
    public var closeLinger: TimeAmount = .seconds(2)
    /// Threads answering read commands, each with its own SQLite connection.
    public var readers = 2
    /// The most commands one group commit takes.
    public var maxBatch = 512
    /// WAL checkpoints beside the writer instead of inside its commits (`WALCheckpointer`); nil leaves them to SQLite.
    var walCheckpoints: WALCheckpointer.Settings? = WALCheckpointer.Settings()
    /// Failed authentications from one source within `authFailureWindow` seconds before it is limited.
    public var authFailureLimit = 5
    public var authFailureWindow: Double = 60
    /// Sources the failure limiter remembers at most.
    public var authFailureSources = 4096
    /// Events the log grows by between the report snapshots the server saves on its own (0: never).
    public var reportSnapshotInterval: Int64 = 100_000
    /// How often the server looks for account changes in the log (a revoked subscription is closed within this).
    public var accountPollInterval: Double = 0.25
    /// How often an idle subscription gets a heartbeat line.
    public var heartbeatInterval: TimeAmount = .seconds(15)

    /// The witnesses each new checkpoint is submitted to, behind the writes (`WitnessCosigners`).
    public var witnesses: [WitnessTarget] = []
    public var witnessSettings = WitnessCosigners.Settings()
    /// How a checkpoint reaches a witness (`serve` gives HTTP; without it no witness is submitted to).
    public var witnessTransport: WitnessCosigners.Transport?

    public init(endpoint: Endpoint, storePath: String, keyPath: String, usersPath: String) {
        self.endpoint = endpoint
        self.storePath = storePath
        self.keyPath = keyPath
        self.usersPath = usersPath
    }

    /// The unauthenticated cap in force.
    var unauthenticatedLimit: Int { max(1, maxUnauthenticatedConnections ?? maxConnections / 4) }
}
