using System;

namespace Pike.Reactor.RespServer.Commands;

/// <summary>
/// The HELP replies of the container commands, byte for byte what Redis 7.0 sends (its text,
/// including the subcommands this server does not have: a client reading HELP learns what Redis offers).
/// </summary>
internal static class HelpReplies
{
    public static ReadOnlySpan<byte> Command =>
        "*21\r\n"u8 +
        "+COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"u8 +
        "+(no subcommand)\r\n"u8 +
        "+    Return details about all Redis commands.\r\n"u8 +
        "+COUNT\r\n"u8 +
        "+    Return the total number of commands in this Redis server.\r\n"u8 +
        "+LIST\r\n"u8 +
        "+    Return a list of all commands in this Redis server.\r\n"u8 +
        "+INFO [<command-name> ...]\r\n"u8 +
        "+    Return details about multiple Redis commands.\r\n"u8 +
        "+    If no command names are given, documentation details for all\r\n"u8 +
        "+    commands are returned.\r\n"u8 +
        "+DOCS [<command-name> ...]\r\n"u8 +
        "+    Return documentation details about multiple Redis commands.\r\n"u8 +
        "+    If no command names are given, documentation details for all\r\n"u8 +
        "+    commands are returned.\r\n"u8 +
        "+GETKEYS <full-command>\r\n"u8 +
        "+    Return the keys from a full Redis command.\r\n"u8 +
        "+GETKEYSANDFLAGS <full-command>\r\n"u8 +
        "+    Return the keys and the access flags from a full Redis command.\r\n"u8 +
        "+HELP\r\n"u8 +
        "+    Prints this help.\r\n"u8;

    public static ReadOnlySpan<byte> Config =>
        "*11\r\n"u8 +
        "+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"u8 +
        "+GET <pattern>\r\n"u8 +
        "+    Return parameters matching the glob-like <pattern> and their values.\r\n"u8 +
        "+SET <directive> <value>\r\n"u8 +
        "+    Set the configuration <directive> to <value>.\r\n"u8 +
        "+RESETSTAT\r\n"u8 +
        "+    Reset statistics reported by the INFO command.\r\n"u8 +
        "+REWRITE\r\n"u8 +
        "+    Rewrite the configuration file.\r\n"u8 +
        "+HELP\r\n"u8 +
        "+    Prints this help.\r\n"u8;

    public static ReadOnlySpan<byte> Client =>
        "*48\r\n"u8 +
        "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"u8 +
        "+CACHING (YES|NO)\r\n"u8 +
        "+    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.\r\n"u8 +
        "+GETREDIR\r\n"u8 +
        "+    Return the client ID we are redirecting to when tracking is enabled.\r\n"u8 +
        "+GETNAME\r\n"u8 +
        "+    Return the name of the current connection.\r\n"u8 +
        "+ID\r\n"u8 +
        "+    Return the ID of the current connection.\r\n"u8 +
        "+INFO\r\n"u8 +
        "+    Return information about the current client connection.\r\n"u8 +
        "+KILL <ip:port>\r\n"u8 +
        "+    Kill connection made from <ip:port>.\r\n"u8 +
        "+KILL <option> <value> [<option> <value> [...]]\r\n"u8 +
        "+    Kill connections. Options are:\r\n"u8 +
        "+    * ADDR (<ip:port>|<unixsocket>:0)\r\n"u8 +
        "+      Kill connections made from the specified address\r\n"u8 +
        "+    * LADDR (<ip:port>|<unixsocket>:0)\r\n"u8 +
        "+      Kill connections made to specified local address\r\n"u8 +
        "+    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)\r\n"u8 +
        "+      Kill connections by type.\r\n"u8 +
        "+    * USER <username>\r\n"u8 +
        "+      Kill connections authenticated by <username>.\r\n"u8 +
        "+    * SKIPME (YES|NO)\r\n"u8 +
        "+      Skip killing current connection (default: yes).\r\n"u8 +
        "+LIST [options ...]\r\n"u8 +
        "+    Return information about client connections. Options:\r\n"u8 +
        "+    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)\r\n"u8 +
        "+      Return clients of specified type.\r\n"u8 +
        "+UNPAUSE\r\n"u8 +
        "+    Stop the current client pause, resuming traffic.\r\n"u8 +
        "+PAUSE <timeout> [WRITE|ALL]\r\n"u8 +
        "+    Suspend all, or just write, clients for <timeout> milliseconds.\r\n"u8 +
        "+REPLY (ON|OFF|SKIP)\r\n"u8 +
        "+    Control the replies sent to the current connection.\r\n"u8 +
        "+SETNAME <name>\r\n"u8 +
        "+    Assign the name <name> to the current connection.\r\n"u8 +
        "+UNBLOCK <clientid> [TIMEOUT|ERROR]\r\n"u8 +
        "+    Unblock the specified blocked client.\r\n"u8 +
        "+TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]\r\n"u8 +
        "+         [OPTIN] [OPTOUT] [NOLOOP]\r\n"u8 +
        "+    Control server assisted client side caching.\r\n"u8 +
        "+TRACKINGINFO\r\n"u8 +
        "+    Report tracking status for the current connection.\r\n"u8 +
        "+NO-EVICT (ON|OFF)\r\n"u8 +
        "+    Protect current client connection from eviction.\r\n"u8 +
        "+HELP\r\n"u8 +
        "+    Prints this help.\r\n"u8;
}
