import TrialGateCore

extension Dispatcher {
    /// Runs a request the line protocol accepted: as the host's actor, or as a principal under `Access`. The result
    /// is canonical JSON, for `LineProtocol.reply(to:for:)`.
    public func respond(to request: Request) -> Result<[UInt8], TrialGateError> {
        do {
            switch request.caller {
            case .host(let actor): return .success(CanonicalJSON.encode(try execute(request.command, actor: actor)))
            case .principal(let principal): return .success(try executeEncoded(request.command, principal: principal))
            }
        } catch {
            return .failure(TrialGateError(error))
        }
    }

    /// Answers one frame synchronously on this dispatcher, as `exec` and an in-process session do: the reply line
    /// (no newline) and whether it reports success, or nil when there is none (a blank line, a closed session). A
    /// subscription's acknowledgement is answered; the streaming is a served connection's.
    public func answer(_ frame: Frame, with session: inout LineProtocol) -> (line: [UInt8], ok: Bool)? {
        switch session.receive(frame) {
        case .none: return nil
        case .refuse(let line, _): return (line, false)
        case .welcome(let line, _): return (line, true)
        case .subscribe(_, let ack): return (ack, true)
        case .run(let request):
            let result = respond(to: request)
            return (session.reply(to: result, for: request), (try? result.get()) != nil)
        }
    }

    /// Answers one request line as `exec` does (host caller `actor`): the reply line, or nil for a blank line.
    public func handle(line: [UInt8], actor: String) -> String? {
        var session = LineProtocol.host(actor: actor)
        return answer(.line(framing: line), with: &session).map { String(decoding: $0.line, as: UTF8.self) }
    }
}
