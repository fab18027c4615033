import TrialGateCore

/// Seals drafts into chained events and checks chains.
///
/// Each event's hash is SHA-256 over its RFC 8785 body, which includes the previous event's hash, so
/// changing any event changes every hash after it.
public enum HashChain {
    /// Seals `draft` as event `seq` following the event whose hash is `prevHash`.
    public static func seal(_ draft: EventDraft, seq: Int64, prevHash: String) -> Event {
        let body = Event.body(seq: seq, draft: draft, schemaVersion: Event.currentSchemaVersion, prevHash: prevHash)
        let hash = Digest.sha256Hex(CanonicalJSON.encode(body))
        return Event(seq: seq, timestamp: draft.timestamp, actor: draft.actor, type: draft.type, candidate: draft.candidate,
                     schemaVersion: Event.currentSchemaVersion, payload: draft.payload, prevHash: prevHash, hash: hash)
    }

    /// The hash `event` should have, recomputed from its body.
    public static func recomputeHash(_ event: Event) -> String {
        Digest.sha256Hex(event.canonicalBody)
    }
}
