import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Appends one account event (`user.*`), checked against the accounts so far.
    func changeAccount(_ type: EventType, payload: JSONValue, actor: String) throws -> JSONValue {
        appended(try append(candidate: nil, actor: actor) { state, now in
            try requireTrial(state)
            return [EventDraft(timestamp: now, actor: actor, type: type, candidate: nil, payload: payload)]
        })
    }

    /// Every account, by name: role, sites, status, expiry, and the events that added and last changed it.
    func listUsers() throws -> JSONValue {
        let directory = try UserDirectory.load(store: try requireStore())
        let now = clock.now()
        return ["users": .array(directory.accounts.values.sorted { $0.name < $1.name }.map { a in
            [
                "name": .string(a.name), "role": .string(a.role.rawValue), "sites": .array(a.sites.map { .string($0) }),
                "status": .string(a.status.rawValue), "in_force": .bool(a.isInForce(at: now)),
                "expires_at": .from(a.expiresAt?.description), "added_seq": .number(Double(a.addedSeq)),
                "added_at": .string(a.addedAt.description), "changed_seq": .number(Double(a.changedSeq)),
                "printed_name": .from(a.printedName), "public_key": .from(a.publicKey), "key_id": .from(a.keyID),
                "signer_keys": .array(a.keyHistory.map { ["seq": .number(Double($0.seq)), "key_id": .string($0.keyID), "public_key": .string($0.publicKey)] }),
            ]
        })]
    }
}
