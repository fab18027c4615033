import TrialGateCore
import CSQLite
import Foundation

/// A thin owner of one `sqlite3*` handle. Not thread-safe: one owner uses it at a time.
final class SQLiteConnection {
    private(set) var handle: OpaquePointer?
    let path: String
    private var statements: [String: OpaquePointer] = [:]

    /// Opened read-only: the file or its filesystem cannot be written (reads work, writes get `store_readonly`).
    let readOnly: Bool

    init(path: String, create: Bool, readOnly: Bool = false) throws {
        self.path = path
        self.readOnly = readOnly
        var db: OpaquePointer?
        let rc: Int32
        if readOnly {
            // Nobody can write a read-only filesystem, and WAL's shared-memory file cannot be created on one:
            // open the file as immutable (RFC 3986 percent-encoding for the URI's path).
            let encoded = path.utf8.map { b -> String in
                let c = Character(UnicodeScalar(b))
                return (b < 0x80 && (c.isLetter || c.isNumber || "/-._~".contains(c))) ? String(c) : String(format: "%%%02X", b)
            }.joined()
            rc = sqlite3_open_v2("file:\(encoded)?immutable=1", &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nil)
        } else {
            let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
            rc = sqlite3_open_v2(path, &db, flags, nil)
        }
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            if rc == SQLITE_CANTOPEN, !create {
                throw TrialGateError(.storeMissing, "no store at \(path) (run `trialgate init --store \(path)` first)")
            }
            throw TrialGateError(.storeIO, "cannot open \(path): \(message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        // Wait for another connection's lock (a writer's commit or checkpoint, recovery after a crash) from the
        // very first statement, the file-header check of `EventStore.open` included.
        sqlite3_busy_timeout(db, Self.busyTimeoutMilliseconds)
    }

    /// How long a statement waits for another connection's lock before failing with `store_busy`.
    static let busyTimeoutMilliseconds: Int32 = 5000

    deinit { close() }

    func close() {
        for (_, s) in statements { sqlite3_finalize(s) }
        statements = [:]
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    func error(_ rc: Int32, _ what: String) -> TrialGateError {
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "closed"
        switch rc & 0xFF {
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            return TrialGateError(.storeCorrupt, "\(path) is damaged or not a database (\(message)) while \(what); restore it from a copy and run `trialgate verify`")
        case SQLITE_BUSY, SQLITE_LOCKED:
            return TrialGateError(.storeBusy, "\(path) is locked by another writer (\(message)) while \(what)")
        case SQLITE_FULL:
            return TrialGateError(.storeFull, "the disk holding \(path) is full (\(message)) while \(what); nothing was written")
        case SQLITE_READONLY:
            return TrialGateError(.storeReadonly, "\(path) is read-only (\(message)) while \(what); nothing was written")
        case SQLITE_CONSTRAINT:
            return TrialGateError(.storeConstraint, "the store refused the change (\(message)) while \(what)")
        default:
            return TrialGateError(.storeIO, "SQLite error \(rc) (\(message)) while \(what)")
        }
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String, _ what: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &err)
        if let err { sqlite3_free(err) }
        guard rc == SQLITE_OK else { throw error(rc, what) }
    }

    /// A cached prepared statement, reset and with bindings cleared.
    func statement(_ sql: String) throws -> OpaquePointer {
        if let s = statements[sql] {
            sqlite3_reset(s)
            sqlite3_clear_bindings(s)
            return s
        }
        var s: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &s, nil)
        guard rc == SQLITE_OK, let s else { throw error(rc, "preparing a query") }
        statements[sql] = s
        return s
    }

    /// Runs a query and calls `row` for each result row.
    func query(_ sql: String, _ bind: [SQLiteValue] = [], _ what: @autoclosure () -> String, row: (OpaquePointer) throws -> Void) throws {
        try queryWhile(sql, bind, what()) { s in try row(s); return true }
    }

    /// Runs a query and calls `row` for each result row until it returns false.
    func queryWhile(_ sql: String, _ bind: [SQLiteValue] = [], _ what: @autoclosure () -> String, row: (OpaquePointer) throws -> Bool) throws {
        let s = try statement(sql)
        defer { sqlite3_reset(s) }
        try bindAll(s, bind)
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc, what()) }
            guard try row(s) else { return }
        }
    }

    /// Runs a statement that returns no rows.
    func run(_ sql: String, _ bind: [SQLiteValue], _ what: @autoclosure () -> String) throws {
        let s = try statement(sql)
        defer { sqlite3_reset(s) }
        try bindAll(s, bind)
        let rc = sqlite3_step(s)
        guard rc == SQLITE_DONE else { throw error(rc, what()) }
    }

    /// The first column of the first row, as text.
    func scalarText(_ sql: String, _ what: String) throws -> String? {
        var out: String?
        try query(sql, [], what) { s in out = Self.text(s, 0) }
        return out
    }

    /// The first column of the first row, as an integer.
    func scalarInt(_ sql: String, _ what: String) throws -> Int64? {
        var out: Int64?
        try query(sql, [], what) { s in out = sqlite3_column_type(s, 0) == SQLITE_NULL ? nil : sqlite3_column_int64(s, 0) }
        return out
    }

    private func bindAll(_ s: OpaquePointer, _ values: [SQLiteValue]) throws {
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32
            switch v {
            case .int(let n): rc = sqlite3_bind_int64(s, idx, n)
            case .text(let t): rc = sqlite3_bind_text(s, idx, t, -1, SQLITE_TRANSIENT)
            case .utf8(let b):
                // An empty array may have no address, which SQLite would bind as NULL.
                rc = b.isEmpty ? sqlite3_bind_text(s, idx, "", 0, SQLITE_TRANSIENT)
                    : b.withUnsafeBytes { sqlite3_bind_text(s, idx, $0.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(b.count), SQLITE_TRANSIENT) }
            case .blob(let b): rc = b.withUnsafeBytes { sqlite3_bind_blob(s, idx, $0.baseAddress, Int32(b.count), SQLITE_TRANSIENT) }
            case .null: rc = sqlite3_bind_null(s, idx)
            }
            guard rc == SQLITE_OK else { throw error(rc, "binding a value") }
        }
    }

    static func text(_ s: OpaquePointer, _ column: Int32) -> String? {
        guard let p = sqlite3_column_text(s, column) else { return nil }
        return String(cString: p)
    }

    static func blob(_ s: OpaquePointer, _ column: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(s, column))
        guard n > 0, let p = sqlite3_column_blob(s, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    static func bytes(_ s: OpaquePointer, _ column: Int32) -> [UInt8] {
        guard let p = sqlite3_column_text(s, column) else { return [] }
        let n = Int(sqlite3_column_bytes(s, column))
        return Array(UnsafeBufferPointer(start: p, count: n))
    }
}

/// A value bound into a statement.
enum SQLiteValue {
    case int(Int64)
    case text(String)
    /// Text given as its UTF-8 bytes, bound without a detour through `String`.
    case utf8([UInt8])
    case blob([UInt8])
    case null
}

// SQLITE_TRANSIENT is a macro SQLite defines as ((sqlite3_destructor_type)-1).
let SQLITE_TRANSIENT = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
