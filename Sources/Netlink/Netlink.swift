/// The rtnetlink client. See the files beside this one.
public enum NetlinkModule {}
