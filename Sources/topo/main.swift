import TopoLanguage
print("topo")
