import Logging
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

    init(_ location: PostgresLocation) throws {
        self.location = location
        var logger = Logger(label: "trialgate.store.postgres")
        // Queries carry participant data: nothing of them reaches the operational log.
        logger.logLevel = .critical
        self.logger = logger
        connection = try Self.connect(location, logger: logger)
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
        // A query sent on a session the server has ended can wait for ever: refuse it here instead.
        guard !connection.isClosed else {
            throw TrialGateError(.storeIO, "\(location): the server ended this session (restart, or a transaction stalled past its limit) while \(what()); nothing of its open transaction was kept")
        }
        do {
            let answer = connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
            // And a session that dies under a query that was already sent is given up after `queryLimit`.
            let limited = answer.eventLoop.makePromise(of: PostgresQueryResult.self)
            let timer = answer.eventLoop.scheduleTask(in: Self.queryLimit) {
                limited.fail(TrialGateError(.storeIO, "no answer within \(Self.queryLimit.nanoseconds / 1_000_000_000) s"))
            }
            answer.whenComplete { _ in timer.cancel() }
            answer.cascade(to: limited)
            return try limited.futureResult.wait().rows
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

extension StringProtocol {
    var trimmingWhitespace: String {
        String(drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
