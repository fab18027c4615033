import TrialGateAudit
import TrialGateCore

extension Dispatcher {
    func checkPolicy(text: String, file: String) throws -> PolicyCheckReply {
        let policy = try PolicyLoader.load(text, file: file)
        return PolicyCheckReply(policy: policy.id, version: policy.version, title: policy.title, sha256: Digest.sha256Hex(text),
                                criteria: policy.criteria.map { .init(id: $0.id, kind: $0.kind.rawValue, enabled: $0.enabled, description: $0.description) })
    }

    func testPolicy(policyText: String, policyFile: String, casesText: String, casesFile: String, models: [ModelSubmission] = []) throws -> PolicyTestReply {
        let policy = try PolicyLoader.load(policyText, file: policyFile)
        let table = try PolicyCaseTable.load(casesText, file: casesFile)
        // The models the cases are evaluated with, as if registered in this order before the policy.
        let registered = try models.enumerated().map { i, m in
            try RegisteredModel(payload: try Self.modelPayload(m), seq: Int64(i + 1), registeredAt: UTCTimestamp(millisecondsSinceEpoch: 0))
        }
        let missing = policy.missingModels(registered)
        if !missing.isEmpty {
            throw TrialGateError(.invalidPolicy, "policy \(policy.id) \(policy.version): its model gate reads \(missing.joined(separator: ", ")); give the model with the cases (--model-card, --model-artifact, --model-settings; over the socket, models)")
        }
        if let why = policy.modelGateProblem(registered) { throw TrialGateError(.invalidPolicy, "policy \(policy.id) \(policy.version): \(why)") }
        let results = table.run(policy, models: registered)
        return PolicyTestReply(policy: policy.id, version: policy.version, passed: results.filter(\.passed).count,
                               failed: results.filter { !$0.passed }.count,
                               cases: results.map { r in
                                   .init(name: r.name, expected: r.expected.rawValue, got: r.evaluation?.outcome.rawValue, ok: r.passed, failures: r.failures)
                               })
    }
}
