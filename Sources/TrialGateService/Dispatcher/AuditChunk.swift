import Dispatch
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// A chunk of stored rows being parsed, hashed and checked on background threads (`ParallelPreparation`).
final class AuditChunk: Sendable {
    let rows: [StoredRow]
    private let preparation: ParallelPreparation<Result<LogAuditor.Prepared, TrialGateError>>

    /// - Parameters:
    ///   - checkBytes: also hash the stored bytes and check their canonical form (the audit); a plain fold only parses.
    ///   - parallel: prepare on two workers of the global queue; otherwise on the thread that waits for the chunk.
    init(rows: [StoredRow], checkBytes: Bool = true, parallel: Bool = true) {
        self.rows = rows
        preparation = ParallelPreparation(count: rows.count, workers: parallel ? 2 : 1) { i in
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

    /// Starts preparing on the workers, leaving this thread free to fold.
    func start() { preparation.start() }

    /// Waits until the chunk is prepared.
    func wait() -> [Result<LogAuditor.Prepared, TrialGateError>] { preparation.wait() }
}
