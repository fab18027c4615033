import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
import TrialGateAudit
import TrialGateCore
import TrialGatePolicies
@testable import TrialGateServer
@testable import TrialGateService
import TrialGateStore

/// One served connection driven through `NIOAsyncTestingChannel`: no socket, and time moved by hand, so deadlines
/// are tested without sleeping. The requests still run on real worker threads over a real store.
final class ConnectionHarness: @unchecked Sendable {
    let fixture: Fixture
    let server: LineServer
    let workers: Workers
    let token: String

    init(configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        fixture = try Fixture(policy: ShippedPolicies.sanetEP)
        let f = fixture
        let (token, digest) = UserDirectory.newToken()
        try f.run(.userAdd(name: "alice", role: "coordinator", sites: ["SITE-A"], tokenSHA256: digest, expiresAt: nil, signer: nil), as: "setup")
        self.token = token
        var config = ServerConfiguration(endpoint: .tcp(host: "127.0.0.1", port: 0), storePath: f.storePath,
                                         keyPath: f.storePath + ".key", usersPath: f.storePath + ".users.json")
        configure(&config)
        server = LineServer(configuration: config, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        server.state.install(try UserDirectory.load(store: f.store), now: SystemClock().now())
        let (path, key) = (f.storePath, f.key)
        workers = try Workers(readers: 1, maxBatch: 16,
                              makeDispatcher: { Dispatcher(store: try EventStore.open(path: path), clock: SystemClock(), key: { key }) },
                              onCommit: { _ in })
    }

    /// A connected test channel and the task serving it.
    func connect() async throws -> (NIOAsyncTestingChannel, Task<Void, Never>) {
        let channel = NIOAsyncTestingChannel()
        let config = server.config
        let clock = NIOLockedValueBox(ConnectionClock(deadlines: ConnectionDeadlines(
            opened: channel.eventLoop.now, authTimeout: config.authTimeout, idleTimeout: config.idleTimeout)))
        let peer = Peer(name: "127.0.0.1:50000", source: .local)
        let logger = server.logger
        let wrapped = try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.addHandler(ConnectionKeeper(clock: clock, config: config, logger: logger, peer: peer))
            return try ServedConnection.Channel(wrappingChannelSynchronously: channel)
        }.get()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        let (server, workers) = (self.server, self.workers)
        let task = Task { await server.serve(LineServer.Accepted(channel: wrapped, peer: peer, clock: clock), workers: workers) }
        return (channel, task)
    }

    func stop() async { await workers.stop() }
}

extension NIOAsyncTestingChannel {
    func send(_ text: String) async throws { try await writeInbound(ByteBuffer(string: text)) }

    /// The next `count` reply lines the connection writes, parsed.
    func replies(_ count: Int) async throws -> [JSONValue] {
        var lines: [JSONValue] = []
        while lines.count < count {
            let buffer = try await waitForOutboundWrite(as: ByteBuffer.self)
            for line in String(buffer: buffer).split(separator: "\n") { lines.append(try JSONParser.parse(Array(line.utf8))) }
        }
        return lines
    }
}

@Suite("A served connection, without a socket", .timeLimit(.minutes(1)))
struct ServedConnectionTests {
    @Test("pipelined requests run on the workers and are answered in order, each with its id")
    func pipelined() async throws {
        let harness = try ConnectionHarness()
        let (channel, task) = try await harness.connect()
        try await channel.send(#"{"cmd":"auth","token":"\#(harness.token)"}"# + "\n" + #"{"id":1,"cmd":"head"}"# + "\n"
                               + #"{"id":2,"cmd":"register","candidate":"P-1","site":"SITE-A","consent_date":"2026-06-01"}"# + "\n"
                               + #"{"id":3,"cmd":"nope"}"# + "\n")
        let replies = try await channel.replies(4)
        #expect(replies.map { $0["ok"] } == [.bool(true), .bool(true), .bool(true), .bool(false)])
        #expect(replies.dropFirst().map { $0["id"] } == [.number(1), .number(2), .number(3)])
        #expect(replies[2]["result"]?["seq"]?.intValue == Int(try harness.fixture.size()))
        #expect(replies[3]["error"]?["code"] == .string("bad_request"))
        channel.close(promise: nil)
        await task.value
        await harness.stop()
    }

    @Test("a connection that has not authenticated by the deadline is told so and closed, on the test clock")
    func authenticationDeadline() async throws {
        let harness = try ConnectionHarness { $0.authTimeout = .seconds(10) }
        let (channel, task) = try await harness.connect()
        try await channel.send("{\"cmd\":\"head\"}\n")
        #expect(try await channel.replies(1).first?["error"]?["code"] == .string("unauthenticated"))
        await channel.testingEventLoop.advanceTime(by: .seconds(9))
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(try await channel.replies(1).first?["error"]?["code"] == .string("auth_timeout"))
        // What the client sends after that is dropped; the connection closes after the refusal's linger.
        try? await channel.send(#"{"cmd":"auth","token":"\#(harness.token)"}"# + "\n")
        await channel.testingEventLoop.advanceTime(by: ConnectionKeeper.refusalLinger)
        await task.value
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(!channel.isActive)
        await harness.stop()
    }

    @Test("a logged-in connection that completes no request within the idle timeout is closed; a complete request resets it")
    func idleTimeout() async throws {
        let harness = try ConnectionHarness { $0.idleTimeout = .seconds(5) }
        let (channel, task) = try await harness.connect()
        try await channel.send(#"{"cmd":"auth","token":"\#(harness.token)"}"# + "\n")
        _ = try await channel.replies(1)
        await channel.testingEventLoop.advanceTime(by: .seconds(4))
        try await channel.send(#"{"id":7,"cmd":"head"}"# + "\n")
        #expect(try await channel.replies(1).first?["id"] == .number(7))
        // Bytes that do not complete a request do not count.
        try await channel.send(#"{"id":8,"cmd":"#)
        await channel.testingEventLoop.advanceTime(by: .seconds(4))
        #expect(try await channel.readOutbound(as: ByteBuffer.self) == nil)
        await channel.testingEventLoop.advanceTime(by: .seconds(2))
        #expect(try await channel.replies(1).first?["error"]?["code"] == .string("idle_timeout"))
        await channel.testingEventLoop.advanceTime(by: ConnectionKeeper.refusalLinger)
        await task.value
        await harness.stop()
    }

    @Test("shutdown: requests already read are answered in order, those not run yet with shutting_down and their id, then the connection ends")
    func draining() async throws {
        let harness = try ConnectionHarness()
        let (channel, task) = try await harness.connect()
        try await channel.send(#"{"cmd":"auth","token":"\#(harness.token)"}"# + "\n")
        _ = try await channel.replies(1)
        let count = 2000
        try await channel.send((1...count).map { #"{"id":\#($0),"cmd":"head"}"# + "\n" }.joined())
        harness.server.state.drain()
        let replies = try await channel.replies(count)
        #expect(replies.map { $0["id"]?.intValue } == Array(1...count))
        let refused = replies.drop { $0["ok"] == .bool(true) }
        #expect(!refused.isEmpty)
        #expect(refused.allSatisfy { $0["error"]?["code"] == .string("shutting_down") })
        await channel.testingEventLoop.advanceTime(by: harness.server.config.closeLinger)
        await task.value
        #expect(!channel.isActive)
        await harness.stop()
    }

    @Test("a client that half-closes is answered, its last line without a newline included, then the connection closes")
    func halfClose() async throws {
        let harness = try ConnectionHarness()
        let (channel, task) = try await harness.connect()
        try await channel.send(#"{"cmd":"auth","token":"\#(harness.token)"}"# + "\n" + #"{"id":9,"cmd":"head"}"#)
        _ = try await channel.replies(1)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(try await channel.replies(1).first?["id"] == .number(9))
        await task.value
        #expect(!channel.isActive)
        await harness.stop()
    }

    @Test("an unauthenticated connection evicted to make room is told why and closed")
    func evicted() async throws {
        let harness = try ConnectionHarness()
        let (channel, task) = try await harness.connect()
        channel.pipeline.fireUserInboundEventTriggered(ConnectionEvent.evicted)
        #expect(try await channel.replies(1).first?["error"]?["code"] == .string("too_many_connections"))
        await channel.testingEventLoop.advanceTime(by: ConnectionKeeper.refusalLinger)
        await task.value
        await harness.stop()
    }
}
