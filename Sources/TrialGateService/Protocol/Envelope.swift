import TrialGateCore

/// The reply envelope, encoded in one place: `{"id":…,"ok":true,"result":…}` or
/// `{"error":{"code":…,"message":…},"id":…,"ok":false}` (RFC 8785 key order; no `id` when the request had none or
/// could not be read), one line each.
public enum Envelope {
    /// A success around a result already in its canonical encoding, placed as it is: byte for byte the canonical
    /// encoding of the whole reply, since `id` < `ok` < `result` is also RFC 8785's order.
    public static func success(id: JSONValue?, encodedResult: [UInt8]) -> [UInt8] {
        let encodedID = id.map(CanonicalJSON.encode)
        var out: [UInt8] = []
        out.reserveCapacity(encodedResult.count + (encodedID?.count ?? 0) + 32)
        out.append(UInt8(ascii: "{"))
        if let encodedID {
            out.append(contentsOf: "\"id\":".utf8)
            out.append(contentsOf: encodedID)
            out.append(UInt8(ascii: ","))
        }
        out.append(contentsOf: "\"ok\":true,\"result\":".utf8)
        out.append(contentsOf: encodedResult)
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A success around a result value.
    public static func success(id: JSONValue?, result: JSONValue) -> [UInt8] {
        success(id: id, encodedResult: CanonicalJSON.encode(result))
    }

    /// A failure.
    public static func failure(id: JSONValue?, _ error: TrialGateError) -> [UInt8] {
        var reply: [String: JSONValue] = ["ok": false, "error": error.json]
        if let id { reply["id"] = id }
        return CanonicalJSON.encode(.object(reply))
    }

    /// A failure, from its code and message.
    public static func failure(id: JSONValue?, _ code: ErrorCode, _ message: String) -> [UInt8] {
        failure(id: id, TrialGateError(code, message))
    }
}
