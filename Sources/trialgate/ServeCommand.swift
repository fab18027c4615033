import ArgumentParser
import TrialGateStore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TrialGateCore
import TrialGateServer
import TrialGateService
import TrialGateWitness

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the line protocol on TCP or a Unix-domain socket (see docs/protocol.md).")

    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "TCP address to listen on, HOST:PORT (loopback unless TLS is configured).") var listen: String?
    @Option(name: .long, help: "Unix-domain socket path to listen on.") var unix: String?
    @Option(name: .long, help: "An earlier release's users file (default: STORE.users.json): the server does not start until its accounts are in the log (`users import`).") var users: String?
    @Option(name: .long, help: "TLS certificate chain, PEM.") var tlsCert: String?
    @Option(name: .long, help: "TLS private key, PEM.") var tlsKey: String?
    @Flag(name: .long, help: "Allow plain TCP on an address reachable beyond this machine.") var insecurePlaintext = false
    @Option(name: .long, help: "Longest request line in bytes.") var maxLine = 64 * 1024
    @Option(name: .long, help: "Close connections that complete no request for this many seconds (a trickle of bytes does not count).")
    var idleTimeout = 300
    @Option(name: .long, help: "Close connections that have not authenticated this many seconds after connecting.") var authTimeout = 10
    @Option(name: .long, help: "Most open connections.") var maxConnections = 512
    @Option(name: .long, help: "Most connections waiting to authenticate (default: a quarter of --max-connections).")
    var maxUnauthenticated: Int?
    @Option(name: .long, help: "Most connections waiting to authenticate from one address (an IPv6 /64; all of loopback is one).")
    var maxUnauthenticatedPerAddress = 16
    @Option(name: .long, help: "Error replies a connection may get before it authenticates; the next closes it.")
    var maxErrorsBeforeAuth = 10
    @Option(name: .long, help: "Event-loop threads (default: one per core).") var eventLoops = System.coreCount
    @Option(name: .long, help: "Save a signed report snapshot each time the log has grown by this many events (0: never).")
    var reportSnapshotEvery: Int64 = 100_000
    @Option(name: .long, help: "A witness each new checkpoint is submitted to, behind the writes, as URL=VKEY; repeat for several (default: TRIALGATE_WITNESSES, URL=VKEY entries separated by spaces).")
    var witness: [String] = []
    @Option(name: .long, help: "The shortest time between two submissions to one witness, in seconds (failures back off from it, to at most 60 s).")
    var witnessInterval: Double = 1
    @Option(name: .long, help: "Resubmit the newest checkpoint after this many seconds without writes, so that the witnesses cosign it again with a newer time (what verify --max-age checks).")
    var witnessRefresh: Double = 3600
    @Option(name: .long, help: "On a PostgreSQL store served by several nodes: this node's name. The node writes only while it holds the trial's writer lease; the others refuse writes with not_leader, naming it.")
    var node: String?
    @Option(name: .long, help: "With --node: where clients reach this node, HOST:PORT, told to clients the other nodes refuse (default: the --listen address).")
    var advertise: String?
    @Option(name: .long, help: "With --node: how long the writer lease lasts after each write, in seconds; when it runs out another node may take over.")
    var leaseSeconds: Double = 5

    func run() async throws {
        let endpoint: ServerConfiguration.Endpoint
        switch (listen, unix) {
        case (let l?, nil):
            guard let colon = l.lastIndex(of: ":"), let port = Int(l[l.index(after: colon)...]) else {
                throw Runner.fail(TrialGateError(.badRequest, "--listen takes HOST:PORT, got \(l)"))
            }
            var host = String(l[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            endpoint = .tcp(host: host, port: port)
        case (nil, let u?): endpoint = .unix(path: u)
        default: throw Runner.fail(TrialGateError(.badRequest, "give exactly one of --listen HOST:PORT or --unix PATH"))
        }
        var config = ServerConfiguration(endpoint: endpoint, storePath: options.storePath, keyPath: options.keyPath,
                                         usersPath: users ?? options.besideStore(".users.json"))
        if let node {
            guard PostgresLocation.names(options.storePath) else {
                throw Runner.fail(TrialGateError(.badRequest, "--node: a writer lease needs a PostgreSQL store (postgres://…); \(options.storePath) is an SQLite file, which one host writes"))
            }
            guard !node.isEmpty, (0.5...600).contains(leaseSeconds) else {
                throw Runner.fail(TrialGateError(.invalidField, "--node must be a name and --lease-seconds 0.5 to 600; got \(node.isEmpty ? "an empty name" : node) and \(leaseSeconds)"))
            }
            config.lease = WriterLease(node: node, address: advertise ?? listen ?? unix.map { "unix:" + $0 } ?? "", milliseconds: Int(leaseSeconds * 1000))
        }
        config.tlsCertificatePath = tlsCert
        config.tlsKeyPath = tlsKey
        config.allowInsecurePlaintext = insecurePlaintext
        config.maxLineBytes = maxLine
        guard idleTimeout >= 1, (1...600).contains(authTimeout) else {
            throw Runner.fail(TrialGateError(.invalidField, "--idle-timeout must be at least 1 and --auth-timeout 1 to 600 (seconds); got \(idleTimeout) and \(authTimeout)"))
        }
        guard maxConnections >= 1, maxUnauthenticatedPerAddress >= 1, maxErrorsBeforeAuth >= 0 else {
            throw Runner.fail(TrialGateError(.invalidField, "--max-connections and --max-unauthenticated-per-address must be at least 1, --max-errors-before-auth at least 0"))
        }
        if let maxUnauthenticated, !(1..<maxConnections).contains(maxUnauthenticated) {
            throw Runner.fail(TrialGateError(.invalidField, "--max-unauthenticated must be 1 to \(maxConnections - 1), below --max-connections, so that logged-in users keep slots; got \(maxUnauthenticated)"))
        }
        config.idleTimeout = .seconds(Int64(idleTimeout))
        config.authTimeout = .seconds(Int64(authTimeout))
        config.maxConnections = maxConnections
        config.maxUnauthenticatedConnections = maxUnauthenticated
        config.maxUnauthenticatedPerSource = maxUnauthenticatedPerAddress
        config.maxErrorsBeforeAuth = maxErrorsBeforeAuth
        guard reportSnapshotEvery >= 0 else { throw Runner.fail(TrialGateError(.invalidField, "--report-snapshot-every must be 0 or more")) }
        config.reportSnapshotInterval = reportSnapshotEvery
        do {
            config.witnesses = try witness.isEmpty ? WitnessTarget.list(Environment.get("TRIALGATE_WITNESSES") ?? "") : WitnessTarget.list(witness.joined(separator: " "))
        } catch { throw Runner.fail(TrialGateError(error)) }
        guard witnessInterval >= 0.01, witnessInterval <= 3600 else {
            throw Runner.fail(TrialGateError(.invalidField, "--witness-interval is 0.01 to 3600 seconds, got \(witnessInterval)"))
        }
        config.witnessSettings.interval = witnessInterval
        guard witnessRefresh >= 1, witnessRefresh <= 7 * 86400 else {
            throw Runner.fail(TrialGateError(.invalidField, "--witness-refresh is 1 to 604800 seconds (a week), got \(witnessRefresh)"))
        }
        config.witnessSettings.refresh = witnessRefresh
        config.witnessSettings.maximumBackoff = max(60, witnessInterval)
        let timeout = config.witnessSettings.timeout
        config.witnessTransport = { target, body in try WitnessClient.post(url: target.url, body: body, timeout: timeout) }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "trialgate.server")
        guard eventLoops >= 1 else { throw Runner.fail(TrialGateError(.invalidField, "--event-loops must be at least 1")) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: eventLoops)
        let server = LineServer(configuration: config, logger: logger, eventLoopGroup: group)
        let services = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
            try? await group.shutdownGracefully()
        } catch {
            throw Runner.fail(TrialGateError(error))
        }
    }
}
