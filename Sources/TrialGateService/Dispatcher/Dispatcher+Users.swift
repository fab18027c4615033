import Foundation
import TrialGateAudit
import TrialGateCore
import TrialGateStore

extension Dispatcher {
    /// Appends one account event (`user.*`), checked against the accounts so far.
    func changeAccount(_ type: EventType, payload: JSONValue, actor: String) throws -> WriteReceipt {
        appended(try append(candidate: nil, actor: actor) { state, now in
            try requireTrial(state)
            return [EventDraft(timestamp: now, actor: actor, type: type, candidate: nil, payload: payload)]
        })
    }

    /// Adds an account (`user.add`): its role, sites, token digest, expiry and, for an investigator, the signer's
    /// printed name, key and signing-code digest.
    func addUser(name: String, role: String, sites: [String], tokenSHA256 digest: String, expiresAt expiry: UTCTimestamp?,
                 signer: SignerRegistration?, actor: String) throws -> WriteReceipt {
        var payload: [String: JSONValue] = ["name": .string(name), "role": .string(role), "sites": .array(sites.map { .string($0) }),
                                            "token_sha256": .string(digest)]
        if let expiry { payload["expires_at"] = .string(expiry.description) }
        if let signer {
            payload["printed_name"] = .string(signer.printedName)
            payload.merge(Self.signerFields(publicKey: signer.publicKey, signingSHA256: signer.signingSHA256)) { _, b in b }
        }
        return try changeAccount(.userAdded, payload: .object(payload), actor: actor)
    }

    /// Gives an investigator's account a new signing key and signing-code digest (`user.rotate-signer`).
    func rotateSigner(name: String, publicKey: String, signingSHA256 digest: String, actor: String) throws -> WriteReceipt {
        try changeAccount(.userSignerRotated, payload: .object(["name": .string(name)]
            .merging(Self.signerFields(publicKey: publicKey, signingSHA256: digest)) { _, b in b }), actor: actor)
    }

    /// An investigator's key and signing-code digest as an account event carries them, with the key id derived here
    /// so that it always names the key (`verify` checks it too).
    static func signerFields(publicKey: String, signingSHA256: String) -> [String: JSONValue] {
        var fields: [String: JSONValue] = ["public_key": .string(publicKey), "signing_sha256": .string(signingSHA256)]
        if let raw = Data(base64Encoded: publicKey), raw.count == 32 { fields["key_id"] = .string(TrialKey.keyID(publicKey: Array(raw))) }
        return fields
    }

    /// Every account, by name: role, sites, status, expiry, and the events that added and last changed it.
    func listUsers() throws -> UsersReply {
        let directory = try UserDirectory.load(store: try requireStore())
        let now = clock.now()
        return UsersReply(users: directory.accounts.values.sorted { $0.name < $1.name }.map { a in
            UsersReply.Account(
                name: a.name, role: a.role.rawValue, sites: a.sites, status: a.status.rawValue, inForce: a.isInForce(at: now),
                expiresAt: a.expiresAt?.description, addedSeq: a.addedSeq, addedAt: a.addedAt.description, changedSeq: a.changedSeq,
                printedName: a.printedName, publicKey: a.publicKey, keyID: a.keyID,
                signerKeys: a.keyHistory.map { .init(seq: $0.seq, keyID: $0.keyID, publicKey: $0.publicKey) })
        })
    }
}
