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

    private func problemList() -> [VerifyReply.Problem] {
        problems.prefix(50).map { VerifyReply.Problem(seq: $0.seq, code: $0.code, message: $0.message) }
    }

    var verifyResult: VerifyReply {
        VerifyReply(valid: valid, events: Int64(auditor.eventsChecked), signaturesChecked: auditor.signaturesChecked, head: head.hash,
                    checkpointsChecked: auditor.checkpointsChecked,
                    checkpointSignaturesChecked: auditor.checkpointSignaturesChecked, reportSnapshotsChecked: reportSnapshotsChecked,
                    root: Data(auditor.tree.root).base64EncodedString(), problems: problemList(), problemCount: problems.count,
                    structure: structural, firstBadSeq: problems.first?.seq)
    }

    var replayResult: ReplayReply {
        let state = auditor.state
        return ReplayReply(events: Int64(auditor.eventsChecked), candidates: state.candidates.count,
                           decisions: state.candidates.values.reduce(0) { $0 + $1.decisions.count }, reproduced: auditor.decisionsReproduced,
                           mismatched: auditor.decisionsMismatched, valid: valid,
                           stateSHA256: Digest.sha256Hex(CanonicalJSON.encode(CandidateView.stateDigestInput(state))), problems: problemList())
    }
}
