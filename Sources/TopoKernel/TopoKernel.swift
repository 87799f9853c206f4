import TopoLanguage
/// Runs plans against the kernel.
public enum TopoKernelModule {}
