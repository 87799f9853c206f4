import Testing
@testable import TopoLanguage

@Test func dumpIPScripts() {
    print(renderPlan(plan(Scenarios.bridge, file: "bridge.topo"), as: .ip, source: nil))
    print(renderPlan(plan(Scenarios.vethPair, file: "pair.topo"), as: .text, source: nil))
    print(renderPlan(plan(Scenarios.vethPair, file: "pair.topo"), as: .json, source: nil))
}
