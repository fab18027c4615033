import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

/// What a full pass over the log found; rendered as `verify` and `replay` results.
struct AuditReport {
    let auditor: LogAuditor
    let problems: [AuditProblem]
    let structural: [String]
    let head: LogHead
    /// The recomputed root at the size `audit(rootAt:)` asked for, if the log reached it.
    var rootAtRequested: [UInt8]? = nil
    /// Saved report snapshots compared with the fold.
    var reportSnapshotsChecked = 0

    var valid: Bool { problems.isEmpty && structural.isEmpty }

    private func problemList() -> JSONValue {
        .array(problems.prefix(50).map { ["seq": .number(Double($0.seq)), "code": .string($0.code), "message": .string($0.message)] })
    }

    var verifyResult: JSONValue {
        var o: [String: JSONValue] = [
            "valid": .bool(valid), "events": .number(Double(auditor.eventsChecked)),
            "signatures_checked": .number(Double(auditor.signaturesChecked)), "head": .string(head.hash),
            "checkpoints_checked": .number(Double(auditor.checkpointsChecked)),
            "report_snapshots_checked": .number(Double(reportSnapshotsChecked)),
            "root": .string(Data(auditor.tree.root).base64EncodedString()),
            "problems": problemList(), "problem_count": .number(Double(problems.count)),
            "structure": .array(structural.map { .string($0) }),
        ]
        if let first = problems.first { o["first_bad_seq"] = .number(Double(first.seq)) }
        return .object(o)
    }

    var replayResult: JSONValue {
        let state = auditor.state
        let decisions = state.candidates.values.reduce(0) { $0 + $1.decisions.count }
        return [
            "events": .number(Double(auditor.eventsChecked)), "candidates": .number(Double(state.candidates.count)),
            "decisions": .number(Double(decisions)), "reproduced": .number(Double(auditor.decisionsReproduced)),
            "mismatched": .number(Double(auditor.decisionsMismatched)), "valid": .bool(valid),
            "state_sha256": .string(Digest.sha256Hex(CanonicalJSON.encode(CandidateView.stateDigestInput(state)))),
            "problems": problemList(),
        ]
    }
}
