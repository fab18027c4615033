import TrialGateCore

/// Seals drafts into chained events and checks chains.
///
/// Each event's hash is SHA-256 over its RFC 8785 body, which includes the previous event's hash, so
/// changing any event changes every hash after it.
public enum HashChain {
    /// Seals `draft` as event `seq` following the event whose hash is `prevHash`.
    public static func seal(_ draft: EventDraft, seq: Int64, prevHash: String) -> Event {
        sealWithBody(draft, seq: seq, prevHash: prevHash).event
    }

    /// Seals `draft` and returns the canonical bytes its hash was computed over too, so that a writer stores
    /// exactly the bytes it hashed without encoding the event a second time.
    public static func sealWithBody(_ draft: EventDraft, seq: Int64, prevHash: String) -> (event: Event, body: [UInt8]) {
        let body = Event.canonicalBody(seq: seq, draft: draft, schemaVersion: Event.currentSchemaVersion, prevHash: prevHash)
        let event = Event(seq: seq, timestamp: draft.timestamp, actor: draft.actor, type: draft.type, candidate: draft.candidate,
                          schemaVersion: Event.currentSchemaVersion, payload: draft.payload, prevHash: prevHash,
                          hash: Digest.sha256Hex(body))
        return (event, body)
    }

    /// The hash `event` should have, recomputed from its body.
    public static func recomputeHash(_ event: Event) -> String {
        Digest.sha256Hex(event.canonicalBody)
    }
}
