import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import TrialGateCore

/// One blocking PostgreSQL connection: the store's calls are synchronous (they run on the writer's thread or a
/// thread pool, never on an event loop), so each query waits for its answer from postgres-nio's event loop.
final class PostgresConnectionBox {
    /// postgres-nio's own loops: a store call waits on one, so it must never be the caller's loop. One per core: a
    /// server's reader threads each wait on their own connection's loop, and one loop for all of them was the
    /// bottleneck of reads at 16 and 64 connections.
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    /// The longest a query may go unanswered: far beyond any statement TrialGate sends (a page of rows, a write lock
    /// that a stalled writer holds until the server ends its session), so only a dead session reaches it.
    static let queryLimit: TimeAmount = .seconds(120)

    let location: PostgresLocation
    private var connection: PostgresConnection
    private let logger: Logger
    /// The session's end and the one query waiting on it. postgres-nio hands a query to its channel without a
    /// promise for the write, so a query written to a channel that has just closed is never answered nor failed (seen
    /// on a node resumed after SIGSTOP, whose session the server had ended meanwhile): the box fails it itself.
    private var watch = SessionWatch()
    /// Runs just before each query is handed to postgres-nio, after the box checked the session is open: a test ends
    /// the session here, as a node resumed after SIGSTOP sees it end between its check and its send.
    var beforeSend: (() -> Void)?

    init(_ location: PostgresLocation) throws {
        self.location = location
        var logger = Logger(label: "trialgate.store.postgres")
        // Queries carry participant data: nothing of them reaches the operational log.
        logger.logLevel = .critical
        self.logger = logger
        connection = try Self.connect(location, logger: logger)
        watch = SessionWatch(connection)
    }

    private static func connect(_ location: PostgresLocation, logger: Logger) throws -> PostgresConnection {
        let configuration = PostgresConnection.Configuration(host: location.host, port: location.port, username: location.user,
                                                             password: location.password, database: location.database, tls: .disable)
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: 1, logger: logger).wait()
        } catch {
            throw TrialGateError(.storeIO, "cannot connect to \(location): \(describe(error))")
        }
    }

    /// Whether the server ended this session (a restart, or `idle_in_transaction_session_timeout` ending a writer
    /// that stalled inside its transaction).
    var isClosed: Bool { connection.isClosed }

    /// Opens a new session in place of one the server ended. Nothing of the old session's open transaction survives:
    /// the server rolled it back.
    func reconnect() throws {
        try? connection.close().wait()
        connection = try Self.connect(location, logger: logger)
        watch = SessionWatch(connection)
    }

    /// A value bound to a query parameter.
    enum Value {
        case int(Int64)
        case text(String)
        case bytes([UInt8])
        case null
    }

    /// Runs one statement and returns its rows.
    @discardableResult
    func rows(_ sql: String, _ values: [Value] = [], _ what: @autoclosure () -> String) throws -> [PostgresRow] {
        var binds = PostgresBindings(capacity: values.count)
        for v in values {
            switch v {
            case .int(let n): binds.append(n)
            case .text(let s): binds.append(s)
            case .bytes(let b): binds.append(ByteBuffer(bytes: b))
            case .null: binds.appendNull()
            }
        }
        do {
            // A query sent on a session that has ended would wait for ever: refused here, or failed by the watch when
            // the session ends before its answer comes.
            guard !connection.isClosed, let answer = watch.send(on: connection.eventLoop, {
                beforeSend?()
                return connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            }) else {
                throw TrialGateError(.storeIO, "the server ended this session (restart, or a transaction stalled past its limit); nothing of its open transaction was kept")
            }
            defer { watch.done() }
            // And a session that goes silent without ending is given up after `queryLimit`.
            let timer = answer.futureResult.eventLoop.scheduleTask(in: Self.queryLimit) {
                answer.fail(TrialGateError(.storeIO, "no answer within \(Self.queryLimit.nanoseconds / 1_000_000_000) s"))
            }
            answer.futureResult.whenComplete { _ in timer.cancel() }
            return try answer.futureResult.wait().rows
        } catch let e as TrialGateError {
            try? connection.close().wait()
            throw TrialGateError(e.code, "\(location): \(e.message) while \(what())")
        } catch {
            throw Self.storeError(error, location: location, what: what())
        }
    }

    /// Runs several statements, one at a time (a migration's script).
    func script(_ sql: String, _ what: String) throws {
        for statement in Self.statements(sql) { try rows(statement, [], what) }
    }

    /// The statements of a script: split at `;` outside quotes and `$$` bodies, without `--` line comments.
    static func statements(_ sql: String) -> [String] {
        var out: [String] = []
        var current = ""
        var inDollar = false
        var inQuote = false
        var chars = Array(sql)[...]
        while let c = chars.popFirst() {
            if c == "-", chars.first == "-", !inQuote, !inDollar {
                // A line comment: dropped, so that an apostrophe in it opens no quote.
                while let next = chars.first, next != "\n" { chars.removeFirst() }
                continue
            }
            current.append(c)
            if c == "$", !inQuote, chars.first == "$" {
                current.append(chars.removeFirst())
                inDollar.toggle()
            } else if c == "'", !inDollar {
                inQuote.toggle()
            } else if c == ";", !inDollar, !inQuote {
                current.removeLast()
                let trimmed = current.trimmingWhitespace
                if !trimmed.isEmpty { out.append(trimmed) }
                current = ""
            }
        }
        let trimmed = current.trimmingWhitespace
        if !trimmed.isEmpty { out.append(trimmed) }
        return out
    }

    private var closed = false

    func close() {
        guard !closed else { return }
        closed = true
        try? connection.close().wait()
    }

    // postgres-nio requires a connection to be closed before it goes away.
    deinit { close() }

    /// A store error naming what was being done, with the server's own message and SQLSTATE.
    static func storeError(_ error: any Error, location: PostgresLocation, what: String) -> TrialGateError {
        guard let e = error as? PSQLError else { return TrialGateError(.storeIO, "\(location): \(describe(error)) while \(what)") }
        let state = e.serverInfo?[.sqlState] ?? ""
        let message = describe(error)
        switch state {
        case "23000", "23505", "23503", "23514", "23502", "P0001", "22P02":
            return TrialGateError(.storeConstraint, "the store refused the change (\(message)) while \(what)")
        case "42501":
            return TrialGateError(.storeReadonly, "\(location): the role \(location.user) may not do this (\(message)) while \(what); nothing was written")
        case "25006":
            return TrialGateError(.storeReadonly, "\(location) is read-only (\(message)) while \(what); nothing was written")
        case "40001", "40P01", "55P03":
            return TrialGateError(.storeBusy, "\(location) is busy (\(message)) while \(what)")
        case "53100":
            return TrialGateError(.storeFull, "the disk holding \(location) is full (\(message)) while \(what); nothing was written")
        default:
            return TrialGateError(.storeIO, "\(location): \(message) while \(what)")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] {
                return message + (e.serverInfo?[.sqlState].map { " [SQLSTATE \($0)]" } ?? "")
            }
            return "\(e.code)"
        }
        return "\(error)"
    }
}

/// The one query in flight on a session, failed when the session ends before it is answered.
///
/// Every completion (the answer, the session's end, the time limit) runs on the connection's event loop and completes
/// the same promise; a promise completes once, and the later ones are no-ops.
private final class SessionWatch: Sendable {
    private struct State {
        var ended = false
        var waiting: EventLoopPromise<PostgresQueryResult>?
    }
    private let state = NIOLockedValueBox(State())

    /// A watch with no session: every `send` is refused.
    init() { state.withLockedValue { $0.ended = true } }

    init(_ connection: PostgresConnection) {
        connection.closeFuture.whenComplete { [state] _ in
            let waiting = state.withLockedValue { s -> EventLoopPromise<PostgresQueryResult>? in
                s.ended = true
                defer { s.waiting = nil }
                return s.waiting
            }
            waiting?.fail(TrialGateError(.storeIO, "the server ended this session before answering (restart, or a transaction stalled past its limit); nothing of its open transaction was kept"))
        }
    }

    /// Sends a query through `query` unless the session has ended (nil); the promise it returns is completed by the
    /// answer, or failed when the session ends first.
    func send(on loop: any EventLoop, _ query: () -> EventLoopFuture<PostgresQueryResult>) -> EventLoopPromise<PostgresQueryResult>? {
        // Registered before it is sent: a session that ends from here on fails it.
        let promise = loop.makePromise(of: PostgresQueryResult.self)
        let registered = state.withLockedValue { s -> Bool in
            guard !s.ended else { return false }
            s.waiting = promise
            return true
        }
        guard registered else {
            promise.fail(TrialGateError(.storeIO, "the session ended"))
            return nil
        }
        query().cascade(to: promise)
        return promise
    }

    /// The query has its answer (or gave up).
    func done() { state.withLockedValue { $0.waiting = nil } }
}

extension StringProtocol {
    var trimmingWhitespace: String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
