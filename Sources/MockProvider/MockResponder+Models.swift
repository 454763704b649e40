/// `GET /v1/models` and `GET /v1/models/{id}`: the configured model list as OpenAI `model`
/// objects. Retrieval is the one place an unknown model gets 404 `model_not_found`.
extension MockResponder {
    /// A fixed `created` for model objects, so the listing is byte-for-byte stable.
    static let modelCreated = 1_700_000_000
    static let modelOwner: StaticString = "switchyard-mock"

    func listModels(faults: MockFaults) -> MockReply {
        var json = JSONBytes(reservingCapacity: 64 + models.count * 96)
        json.raw("{\"object\":\"list\",\"data\":[")
        for (index, model) in models.enumerated() {
            if index > 0 { json.raw(",") }
            appendModel(model, to: &json)
        }
        json.raw("]}")
        return .json(200, json, faults: faults)
    }

    func retrieveModel(_ id: String, faults: MockFaults) -> MockReply {
        guard models.contains(id) else { return MockRequestError.modelNotFound(id).reply(faults: faults) }
        var json = JSONBytes(reservingCapacity: 96)
        appendModel(id, to: &json)
        return .json(200, json, faults: faults)
    }

    private func appendModel(_ id: String, to json: inout JSONBytes) {
        json.raw("{\"id\":")
        json.string(id)
        json.raw(",\"object\":\"model\",\"created\":")
        json.int(MockResponder.modelCreated)
        json.raw(",\"owned_by\":\"")
        json.raw(MockResponder.modelOwner)
        json.raw("\"}")
    }
}
