import Dispatch
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// A chunk of stored rows being parsed, hashed and checked on background threads.
final class AuditChunk: @unchecked Sendable {
    let rows: [StoredRow]
    /// Also hash the stored bytes and check their canonical form (the audit); a plain fold only parses.
    let checkBytes: Bool
    /// Prepare on two workers of the global queue; otherwise on the thread that waits for the chunk.
    let parallel: Bool
    // Each half is written by exactly one worker and read only after `group.wait()`.
    private var firstHalf: [Result<LogAuditor.Prepared, TrialGateError>] = []
    private var secondHalf: [Result<LogAuditor.Prepared, TrialGateError>] = []
    private let group = DispatchGroup()

    init(rows: [StoredRow], checkBytes: Bool = true, parallel: Bool = true) {
        self.rows = rows
        self.checkBytes = checkBytes
        self.parallel = parallel
    }

    private func prepare(_ part: Range<Int>) -> [Result<LogAuditor.Prepared, TrialGateError>] {
        part.map { i in
            do {
                guard checkBytes else {
                    return .success(LogAuditor.Prepared(event: try rows[i].event(), bodyHash: "", canonical: true, leafHash: []))
                }
                let (event, canonical) = try rows[i].eventCheckingCanonical()
                return .success(LogAuditor.prepare(event, storedBody: rows[i].body, isCanonical: canonical))
            } catch {
                return .failure(TrialGateError(error))
            }
        }
    }

    /// Starts preparing on two workers (halves of the chunk), leaving this thread free to fold.
    func start() {
        guard parallel else { return }
        let half = (rows.count + 1) / 2
        group.enter()
        DispatchQueue.global().async { [self] in
            firstHalf = prepare(0..<half)
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async { [self] in
            secondHalf = prepare(half..<rows.count)
            group.leave()
        }
    }

    /// Waits until the chunk is prepared.
    func wait() -> [Result<LogAuditor.Prepared, TrialGateError>] {
        guard parallel else { return prepare(0..<rows.count) }
        group.wait()
        return firstHalf + secondHalf
    }
}
