import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TrialGateCore
import TrialGateServer
import TrialGateService

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the line protocol on TCP or a Unix-domain socket (see docs/protocol.md).")

    @OptionGroup var options: StoreOptions
    @Option(name: .long, help: "TCP address to listen on, HOST:PORT (loopback unless TLS is configured).") var listen: String?
    @Option(name: .long, help: "Unix-domain socket path to listen on.") var unix: String?
    @Option(name: .long, help: "The users file (default: STORE.users.json).") var users: String?
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

    func run() async throws {
        let endpoint: ServerConfiguration.Endpoint
        switch (listen, unix) {
        case (let l?, nil):
            guard let colon = l.lastIndex(of: ":"), let port = Int(l[l.index(after: colon)...]) else {
                throw Runner.fail(ServiceError("bad_request", "--listen takes HOST:PORT, got \(l)"))
            }
            var host = String(l[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            endpoint = .tcp(host: host, port: port)
        case (nil, let u?): endpoint = .unix(path: u)
        default: throw Runner.fail(ServiceError("bad_request", "give exactly one of --listen HOST:PORT or --unix PATH"))
        }
        var config = ServerConfiguration(endpoint: endpoint, storePath: options.storePath, keyPath: options.keyPath,
                                         usersPath: users ?? options.storePath + ".users.json")
        config.tlsCertificatePath = tlsCert
        config.tlsKeyPath = tlsKey
        config.allowInsecurePlaintext = insecurePlaintext
        config.maxLineBytes = maxLine
        guard idleTimeout >= 1, (1...600).contains(authTimeout) else {
            throw Runner.fail(ServiceError("invalid_field", "--idle-timeout must be at least 1 and --auth-timeout 1 to 600 (seconds); got \(idleTimeout) and \(authTimeout)"))
        }
        guard maxConnections >= 1, maxUnauthenticatedPerAddress >= 1, maxErrorsBeforeAuth >= 0 else {
            throw Runner.fail(ServiceError("invalid_field", "--max-connections and --max-unauthenticated-per-address must be at least 1, --max-errors-before-auth at least 0"))
        }
        if let maxUnauthenticated, !(1..<maxConnections).contains(maxUnauthenticated) {
            throw Runner.fail(ServiceError("invalid_field", "--max-unauthenticated must be 1 to \(maxConnections - 1), below --max-connections, so that logged-in users keep slots; got \(maxUnauthenticated)"))
        }
        config.idleTimeout = .seconds(Int64(idleTimeout))
        config.authTimeout = .seconds(Int64(authTimeout))
        config.maxConnections = maxConnections
        config.maxUnauthenticatedConnections = maxUnauthenticated
        config.maxUnauthenticatedPerSource = maxUnauthenticatedPerAddress
        config.maxErrorsBeforeAuth = maxErrorsBeforeAuth
        guard reportSnapshotEvery >= 0 else { throw Runner.fail(ServiceError("invalid_field", "--report-snapshot-every must be 0 or more")) }
        config.reportSnapshotInterval = reportSnapshotEvery
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "trialgate.server")
        guard eventLoops >= 1 else { throw Runner.fail(ServiceError("invalid_field", "--event-loops must be at least 1")) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: eventLoops)
        let server = LineServer(configuration: config, logger: logger, eventLoopGroup: group)
        let services = ServiceGroup(configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await services.run()
            try? await group.shutdownGracefully()
        } catch {
            throw Runner.fail(ServiceError(error))
        }
    }
}

struct UsersGroup: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "users", abstract: "Manage who may use the socket.",
                                                    subcommands: [Add.self, List.self])

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user and print their bearer token, once.")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The users file (default: STORE.users.json).") var users: String?
        @Argument(help: "The user's name, as it will appear as actor in the log.") var name: String
        @Option(name: .long, help: "coordinator, sponsor, regulator or admin.") var role: String
        @Option(name: .long, help: "A site the coordinator works at (repeat for several).") var site: [String] = []

        func run() throws {
            let path = users ?? options.storePath + ".users.json"
            guard let r = Role(rawValue: role) else {
                throw Runner.fail(ServiceError("invalid_field", "role must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            do {
                var directory = try UserDirectory.load(path: path)
                let token = try directory.add(name: name, role: r, sites: site, now: SystemClock().now())
                try directory.save(path: path)
                if options.json { return Runner.printJSON(["name": .string(name), "role": .string(role), "token": .string(token)]) }
                print("Added \(name) (\(role)\(site.isEmpty ? "" : ", sites \(site.joined(separator: ","))")) to \(path).")
                print("Token (shown once; only its SHA-256 is kept):")
                print(token)
            } catch {
                throw Runner.fail(ServiceError(error))
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users (never their tokens).")
        @OptionGroup var options: StoreOptions
        @Option(name: .long, help: "The users file (default: STORE.users.json).") var users: String?

        func run() throws {
            let path = users ?? options.storePath + ".users.json"
            do {
                for u in try UserDirectory.load(path: path).users {
                    print("\(Render.pad(u.name, 24)) \(Render.pad(u.role.rawValue, 12)) \(u.sites.joined(separator: ","))")
                }
            } catch {
                throw Runner.fail(ServiceError(error))
            }
        }
    }
}

struct Client: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send stdin lines to a TrialGate server and print each reply line.")
    @Option(name: .long, help: "HOST:PORT or unix:PATH.") var connect: String
    @Option(name: .long, help: "Bearer token (default: $TRIALGATE_TOKEN).") var token: String?
    @Flag(name: .long, help: "Use TLS, trusting the system's roots (implied by --tls-ca and --tls-pin).") var tls = false
    @Option(name: .long, help: "Use TLS and trust this PEM CA (or self-signed certificate) for the server's certificate.") var tlsCa: String?
    @Option(name: .long, help: "Use TLS and require the server's leaf certificate to have this SHA-256 (hex, of its DER form).")
    var tlsPin: String?

    func run() throws {
        guard let token = token ?? Environment.get("TRIALGATE_TOKEN") else {
            throw Runner.fail(ServiceError("missing_field", "give --token or set TRIALGATE_TOKEN"))
        }
        let useTLS = tls || tlsCa != nil || tlsPin != nil
        if useTLS, connect.hasPrefix("unix:") {
            throw Runner.fail(ServiceError("invalid_field", "TLS is for TCP: --connect \(connect) is a Unix socket"))
        }
        let client: any LineConnection
        do {
            client = useTLS ? try TLSLineClient(connect: connect, trust: .init(caPath: tlsCa, pinnedSHA256: tlsPin)) : try LineClient(connect: connect)
        } catch {
            throw Runner.fail(ServiceError("connect_failed", error.localizedDescription))
        }
        do {
            guard let auth = try client.request(CanonicalJSON.string(["cmd": "auth", "token": .string(token)])), auth.contains("\"ok\":true") else {
                throw Runner.fail(ServiceError("auth_failed", "the server refused the token"))
            }
            // Send everything, then read every reply: requests are pipelined and replies come back in order.
            let writer = Thread {
                while let line = readLine(strippingNewline: true) {
                    if line.allSatisfy(\.isWhitespace) { continue }
                    try? client.send(line: line)
                }
                client.finishSending()
            }
            writer.start()
            var failures = 0
            while let reply = try client.readLine() {
                if reply.contains("\"ok\":false") { failures += 1 }
                print(reply)
                fflush(nil)
            }
            if failures > 0 { throw ExitCode(2) }
        } catch let e as ExitCode {
            throw e
        } catch {
            throw Runner.fail(ServiceError("connection_lost", error.localizedDescription))
        }
    }
}
