using System;
using System.Buffers.Text;
using System.Collections.Generic;
using System.Text;
using Pike.Reactor.RespServer.Protocol;
using Pike.Reactor.RespServer.Storage;

namespace Pike.Reactor.RespServer.Commands;

/// <summary>
/// Runs one parsed request against the store and appends its reply. Replies are byte for byte
/// what Redis 7.0 sends for the same request (the differential tests check it); the hot
/// commands (PING, GET, SET on an existing key) read their arguments from the input buffer and
/// write pre-encoded or formatted bytes, allocating nothing.
/// </summary>
internal sealed class CommandProcessor(KeyValueStore store, ServerStats stats, string pollerName, Func<int> port)
{
    /// <summary>The version INFO reports: the Redis whose replies this server reproduces.</summary>
    public const string CompatibleRedisVersion = "7.0.15";

    private readonly byte[] _pollerName = Encoding.ASCII.GetBytes(pollerName);

    public KeyValueStore Store => store;

    public ServerStats Stats => stats;

    public CommandOutcome Execute(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
    {
        if (args.IsEmpty)
        {
            return CommandOutcome.Continue;
        }

        ReadOnlySpan<byte> name = Arg(input, args, 0);
        if (session.IsSubscribed && !IsAllowedWhileSubscribed(name))
        {
            WriteSubscribedRefusal(name, reply);
            return CommandOutcome.Continue;
        }

        stats.CommandsProcessed++;
        switch (name.Length)
        {
            case 3:
                if (Is(name, "GET"u8))
                {
                    return Get(input, args, reply);
                }

                if (Is(name, "SET"u8))
                {
                    return Set(input, args, reply);
                }

                if (Is(name, "DEL"u8))
                {
                    return Delete(input, args, reply, "del");
                }

                break;
            case 4:
                if (Is(name, "PING"u8))
                {
                    return Ping(input, args, reply, session);
                }

                if (Is(name, "ECHO"u8))
                {
                    return Echo(input, args, reply);
                }

                if (Is(name, "INCR"u8))
                {
                    return Increment(input, args, reply);
                }

                if (Is(name, "MGET"u8))
                {
                    return MultiGet(input, args, reply);
                }

                if (Is(name, "MSET"u8))
                {
                    return MultiSet(input, args, reply);
                }

                if (Is(name, "QUIT"u8))
                {
                    reply.Write("+OK\r\n"u8);
                    return CommandOutcome.CloseAfterReply;
                }

                if (Is(name, "INFO"u8))
                {
                    return Info(reply);
                }

                break;
            case 6:
                if (Is(name, "EXISTS"u8))
                {
                    return Exists(input, args, reply);
                }

                if (Is(name, "UNLINK"u8))
                {
                    // Redis frees UNLINKed values in the background; here freeing is the GC's job either way.
                    return Delete(input, args, reply, "unlink");
                }

                if (Is(name, "DBSIZE"u8))
                {
                    return ExpectArity(args, 1, "dbsize", reply) ? Integer(store.Count, reply) : CommandOutcome.Continue;
                }

                if (Is(name, "CONFIG"u8))
                {
                    return Config(input, args, reply);
                }

                if (Is(name, "CLIENT"u8))
                {
                    return Client(input, args, reply, session);
                }

                if (Is(name, "SELECT"u8))
                {
                    return Select(input, args, reply);
                }

                break;
            case 7:
                if (Is(name, "COMMAND"u8))
                {
                    return Command(input, args, reply);
                }

                if (Is(name, "PUBLISH"u8))
                {
                    return ExpectArity(args, 3, "publish", reply) ? Integer(0, reply) : CommandOutcome.Continue;
                }

                break;
            case 8:
                if (Is(name, "FLUSHALL"u8))
                {
                    return FlushAll(input, args, reply);
                }

                break;
            case 9:
                if (Is(name, "SUBSCRIBE"u8))
                {
                    return Subscribe(input, args, reply, session);
                }

                break;
            case 11:
                if (Is(name, "UNSUBSCRIBE"u8))
                {
                    return Unsubscribe(input, args, reply, session);
                }

                break;
        }

        stats.CommandsProcessed--;
        WriteUnknownCommand(input, args, reply);
        return CommandOutcome.Continue;
    }

    private static ReadOnlySpan<byte> Arg(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, int index) =>
        input.Slice(args[index].Offset, args[index].Length);

    private static bool Is(ReadOnlySpan<byte> name, ReadOnlySpan<byte> upper) => Ascii.EqualsIgnoreCase(name, upper);

    private static CommandOutcome Integer(long value, ReplyBuffer reply)
    {
        reply.WriteInteger(value);
        return CommandOutcome.Continue;
    }

    private static CommandOutcome Ping(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
    {
        if (args.Length > 2)
        {
            return ArityError("ping", reply);
        }

        if (session.IsSubscribed)
        {
            reply.Write("*2\r\n$4\r\npong\r\n"u8);
            reply.WriteBulk(args.Length == 2 ? Arg(input, args, 1) : default);
        }
        else if (args.Length == 1)
        {
            reply.Write("+PONG\r\n"u8);
        }
        else
        {
            reply.WriteBulk(Arg(input, args, 1));
        }

        return CommandOutcome.Continue;
    }

    private static CommandOutcome Echo(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (ExpectArity(args, 2, "echo", reply))
        {
            reply.WriteBulk(Arg(input, args, 1));
        }

        return CommandOutcome.Continue;
    }

    private CommandOutcome Get(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (ExpectArity(args, 2, "get", reply))
        {
            if (store.TryGet(Arg(input, args, 1), out byte[] value))
            {
                reply.WriteBulk(value);
            }
            else
            {
                reply.WriteNull();
            }
        }

        return CommandOutcome.Continue;
    }

    private CommandOutcome Set(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 3)
        {
            return ArityError("set", reply);
        }

        if (args.Length > 3)
        {
            // Options (EX, PX, NX, XX, GET, KEEPTTL) are not supported; Redis says the same of unknown ones.
            reply.Write("-ERR syntax error\r\n"u8);
            return CommandOutcome.Continue;
        }

        store.Set(Arg(input, args, 1), Arg(input, args, 2));
        reply.Write("+OK\r\n"u8);
        return CommandOutcome.Continue;
    }

    private CommandOutcome Delete(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, string command)
    {
        if (args.Length < 2)
        {
            return ArityError(command, reply);
        }

        long removed = 0;
        for (int i = 1; i < args.Length; i++)
        {
            if (store.Remove(Arg(input, args, i)))
            {
                removed++;
            }
        }

        return Integer(removed, reply);
    }

    private CommandOutcome Exists(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 2)
        {
            return ArityError("exists", reply);
        }

        long found = 0;
        for (int i = 1; i < args.Length; i++)
        {
            if (store.ContainsKey(Arg(input, args, i)))
            {
                found++;
            }
        }

        return Integer(found, reply);
    }

    private CommandOutcome Increment(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (!ExpectArity(args, 2, "incr", reply))
        {
            return CommandOutcome.Continue;
        }

        ReadOnlySpan<byte> key = Arg(input, args, 1);
        long value = 0;
        if (store.TryGet(key, out byte[] current) && !RespInteger.TryParse(current, out value))
        {
            reply.Write("-ERR value is not an integer or out of range\r\n"u8);
            return CommandOutcome.Continue;
        }

        if (value == long.MaxValue)
        {
            reply.Write("-ERR increment or decrement would overflow\r\n"u8);
            return CommandOutcome.Continue;
        }

        value++;
        Span<byte> digits = stackalloc byte[24];
        Utf8Formatter.TryFormat(value, digits, out int length);
        store.Set(key, digits[..length]);
        return Integer(value, reply);
    }

    private CommandOutcome MultiGet(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 2)
        {
            return ArityError("mget", reply);
        }

        reply.WriteArrayHeader(args.Length - 1);
        for (int i = 1; i < args.Length; i++)
        {
            if (store.TryGet(Arg(input, args, i), out byte[] value))
            {
                reply.WriteBulk(value);
            }
            else
            {
                reply.WriteNull();
            }
        }

        return CommandOutcome.Continue;
    }

    private CommandOutcome MultiSet(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 3 || args.Length % 2 == 0)
        {
            return ArityError("mset", reply);
        }

        for (int i = 1; i < args.Length; i += 2)
        {
            store.Set(Arg(input, args, i), Arg(input, args, i + 1));
        }

        reply.Write("+OK\r\n"u8);
        return CommandOutcome.Continue;
    }

    private CommandOutcome FlushAll(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length > 2 || (args.Length == 2 && !Is(Arg(input, args, 1), "ASYNC"u8) && !Is(Arg(input, args, 1), "SYNC"u8)))
        {
            reply.Write("-ERR syntax error\r\n"u8);
            return CommandOutcome.Continue;
        }

        store.Clear();
        reply.Write("+OK\r\n"u8);
        return CommandOutcome.Continue;
    }

    private static CommandOutcome Select(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (!ExpectArity(args, 2, "select", reply))
        {
            return CommandOutcome.Continue;
        }

        if (!RespInteger.TryParse(Arg(input, args, 1), out long index))
        {
            reply.Write("-ERR value is not an integer or out of range\r\n"u8);
        }
        else
        {
            // One keyspace: database 0 is the only one there is.
            reply.Write(index == 0 ? "+OK\r\n"u8 : "-ERR DB index is out of range\r\n"u8);
        }

        return CommandOutcome.Continue;
    }

    private static CommandOutcome Command(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        // Clients ask for command metadata (redis-cli: COMMAND DOCS for its hints) and cope
        // with an empty answer; nothing here relies on it.
        if (args.Length >= 2 && Is(Arg(input, args, 1), "COUNT"u8))
        {
            reply.WriteInteger(SupportedCommandCount);
        }
        else
        {
            reply.Write("*0\r\n"u8);
        }

        return CommandOutcome.Continue;
    }

    private const int SupportedCommandCount = 21;

    private static CommandOutcome Config(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 2)
        {
            return ArityError("config", reply);
        }

        ReadOnlySpan<byte> sub = Arg(input, args, 1);
        if (Is(sub, "GET"u8))
        {
            if (args.Length < 3)
            {
                return ArityError("config|get", reply);
            }

            // redis-benchmark reads save/appendonly, StackExchange.Redis databases and the
            // replica flags; each answers what a redis-server started without persistence would.
            Span<(int Name, int Value)> found = stackalloc (int, int)[ConfigTable.Length];
            int count = 0;
            for (int i = 2; i < args.Length; i++)
            {
                ReadOnlySpan<byte> wanted = Arg(input, args, i);
                for (int c = 0; c < ConfigTable.Length; c++)
                {
                    if (Ascii.EqualsIgnoreCase(wanted, ConfigTable[c].Name) && found[..count].IndexOf((c, c)) < 0)
                    {
                        found[count++] = (c, c);
                    }
                }
            }

            reply.WriteArrayHeader(count * 2);
            for (int i = 0; i < count; i++)
            {
                reply.WriteBulk(ConfigTable[found[i].Name].Name);
                reply.WriteBulk(ConfigTable[found[i].Value].Value);
            }

            return CommandOutcome.Continue;
        }

        if (Is(sub, "SET"u8) || Is(sub, "RESETSTAT"u8))
        {
            reply.Write("+OK\r\n"u8);
            return CommandOutcome.Continue;
        }

        return UnknownSubcommand(sub, "CONFIG"u8, reply);
    }

    private static readonly (byte[] Name, byte[] Value)[] ConfigTable =
    [
        ("save"u8.ToArray(), []),
        ("appendonly"u8.ToArray(), "no"u8.ToArray()),
        ("databases"u8.ToArray(), "1"u8.ToArray()),
        ("slave-read-only"u8.ToArray(), "yes"u8.ToArray()),
        ("replica-read-only"u8.ToArray(), "yes"u8.ToArray()),
        ("timeout"u8.ToArray(), "0"u8.ToArray()),
    ];

    private static CommandOutcome Client(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
    {
        if (args.Length < 2)
        {
            return ArityError("client", reply);
        }

        ReadOnlySpan<byte> sub = Arg(input, args, 1);
        if (Is(sub, "SETNAME"u8))
        {
            if (args.Length != 3)
            {
                return ArityError("client|setname", reply);
            }

            ReadOnlySpan<byte> name = Arg(input, args, 2);
            foreach (byte b in name)
            {
                if (b < (byte)'!' || b > (byte)'~')
                {
                    reply.Write("-ERR Client names cannot contain spaces, newlines or special characters.\r\n"u8);
                    return CommandOutcome.Continue;
                }
            }

            session.Name = name.IsEmpty ? null : name.ToArray();
            reply.Write("+OK\r\n"u8);
        }
        else if (Is(sub, "GETNAME"u8))
        {
            if (session.Name is null)
            {
                reply.WriteNull();
            }
            else
            {
                reply.WriteBulk(session.Name);
            }
        }
        else if (Is(sub, "ID"u8))
        {
            reply.WriteInteger(session.Id);
        }
        else if (Is(sub, "SETINFO"u8))
        {
            reply.Write("+OK\r\n"u8); // Redis 7.2's library name/version report; nothing to record
        }
        else
        {
            return UnknownSubcommand(sub, "CLIENT"u8, reply);
        }

        return CommandOutcome.Continue;
    }

    private static CommandOutcome Subscribe(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
    {
        if (args.Length < 2)
        {
            return ArityError("subscribe", reply);
        }

        session.Channels ??= new List<byte[]>();
        for (int i = 1; i < args.Length; i++)
        {
            ReadOnlySpan<byte> channel = Arg(input, args, i);
            if (IndexOfChannel(session.Channels, channel) < 0)
            {
                session.Channels.Add(channel.ToArray());
            }

            reply.Write("*3\r\n$9\r\nsubscribe\r\n"u8);
            reply.WriteBulk(channel);
            reply.WriteInteger(session.Channels.Count);
        }

        return CommandOutcome.Continue;
    }

    private static CommandOutcome Unsubscribe(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
    {
        List<byte[]> channels = session.Channels ??= new List<byte[]>();
        if (args.Length == 1)
        {
            if (channels.Count == 0)
            {
                reply.Write("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"u8);
            }

            while (channels.Count > 0)
            {
                byte[] channel = channels[^1];
                channels.RemoveAt(channels.Count - 1);
                reply.Write("*3\r\n$11\r\nunsubscribe\r\n"u8);
                reply.WriteBulk(channel);
                reply.WriteInteger(channels.Count);
            }

            return CommandOutcome.Continue;
        }

        for (int i = 1; i < args.Length; i++)
        {
            ReadOnlySpan<byte> channel = Arg(input, args, i);
            int at = IndexOfChannel(channels, channel);
            if (at >= 0)
            {
                channels.RemoveAt(at);
            }

            reply.Write("*3\r\n$11\r\nunsubscribe\r\n"u8);
            reply.WriteBulk(channel);
            reply.WriteInteger(channels.Count);
        }

        return CommandOutcome.Continue;
    }

    private static int IndexOfChannel(List<byte[]> channels, ReadOnlySpan<byte> channel)
    {
        for (int i = 0; i < channels.Count; i++)
        {
            if (channel.SequenceEqual(channels[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsAllowedWhileSubscribed(ReadOnlySpan<byte> name) =>
        Is(name, "PING"u8) || Is(name, "QUIT"u8) || Is(name, "SUBSCRIBE"u8) || Is(name, "UNSUBSCRIBE"u8);

    private static void WriteSubscribedRefusal(ReadOnlySpan<byte> name, ReplyBuffer reply)
    {
        Span<byte> lower = stackalloc byte[Math.Min(name.Length, 128)];
        Ascii.ToLower(name[..lower.Length], lower, out _);
        WriteError(reply, "-ERR Can't execute '"u8, lower, "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"u8);
    }

    private CommandOutcome Info(ReplyBuffer reply)
    {
        // Sampled first, so that the reply's own formatting is not counted.
        long allocated = stats.AllocatedBytes();
        Span<byte> text = stackalloc byte[1024];
        int at = 0;
        Append(text, ref at, "# Server\r\nredis_version:"u8);
        Append(text, ref at, CompatibleRedisVersion);
        Append(text, ref at, "\r\nredis_mode:standalone\r\npike_poller:"u8);
        Append(text, ref at, _pollerName);
        Append(text, ref at, "\r\ntcp_port:"u8);
        Append(text, ref at, port());
        Append(text, ref at, "\r\n\r\n# Clients\r\nconnected_clients:"u8);
        Append(text, ref at, stats.ConnectedClients);
        Append(text, ref at, "\r\n\r\n# Stats\r\ntotal_connections_received:"u8);
        Append(text, ref at, stats.ConnectionsReceived);
        Append(text, ref at, "\r\ntotal_commands_processed:"u8);
        Append(text, ref at, stats.CommandsProcessed);
        Append(text, ref at, "\r\nrejected_connections:"u8);
        Append(text, ref at, stats.RejectedConnections);
        Append(text, ref at, "\r\nclients_dropped_for_output:"u8);
        Append(text, ref at, stats.ClientsDroppedForOutput);
        Append(text, ref at, "\r\nprotocol_errors:"u8);
        Append(text, ref at, stats.ProtocolErrors);
        Append(text, ref at, "\r\npike_allocated_bytes:"u8);
        Append(text, ref at, allocated);
        Append(text, ref at, "\r\n\r\n# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n# Keyspace\r\n"u8);
        if (store.Count > 0)
        {
            Append(text, ref at, "db0:keys="u8);
            Append(text, ref at, store.Count);
            Append(text, ref at, ",expires=0,avg_ttl=0\r\n"u8);
        }

        reply.WriteBulk(text[..at]);
        return CommandOutcome.Continue;
    }

    private static void Append(Span<byte> text, ref int at, ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(text[at..]);
        at += bytes.Length;
    }

    private static void Append(Span<byte> text, ref int at, string ascii) =>
        at += Encoding.ASCII.GetBytes(ascii, text[at..]);

    private static void Append(Span<byte> text, ref int at, long value)
    {
        Utf8Formatter.TryFormat(value, text[at..], out int written);
        at += written;
    }

    private static bool ExpectArity(ReadOnlySpan<ArgRange> args, int exact, string command, ReplyBuffer reply)
    {
        if (args.Length == exact)
        {
            return true;
        }

        ArityError(command, reply);
        return false;
    }

    private static CommandOutcome ArityError(string command, ReplyBuffer reply)
    {
        Span<byte> name = stackalloc byte[command.Length];
        Encoding.ASCII.GetBytes(command, name);
        WriteError(reply, "-ERR wrong number of arguments for '"u8, name, "' command\r\n"u8);
        return CommandOutcome.Continue;
    }

    private static CommandOutcome UnknownSubcommand(ReadOnlySpan<byte> sub, ReadOnlySpan<byte> command, ReplyBuffer reply)
    {
        Span<byte> tail = stackalloc byte[command.Length + 16];
        int at = 0;
        Append(tail, ref at, "'. Try "u8);
        Append(tail, ref at, command);
        Append(tail, ref at, " HELP.\r\n"u8);
        WriteError(reply, "-ERR unknown subcommand '"u8, sub[..Math.Min(sub.Length, 128)], tail[..at]);
        return CommandOutcome.Continue;
    }

    // Redis's "unknown command" reply: the name (up to 128 bytes) and the arguments quoted
    // while their text stays under 128 bytes, each cut to what is left of the 128.
    private static void WriteUnknownCommand(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        ReadOnlySpan<byte> name = Arg(input, args, 0);
        Span<byte> listed = stackalloc byte[128 + 3 + 128];
        int at = 0;
        for (int i = 1; i < args.Length && at < 128; i++)
        {
            ReadOnlySpan<byte> arg = Arg(input, args, i);
            int take = Math.Min(arg.Length, 128 - at);
            listed[at++] = (byte)'\'';
            arg[..take].CopyTo(listed[at..]);
            at += take;
            listed[at++] = (byte)'\'';
            listed[at++] = (byte)' ';
        }

        Span<byte> middle = stackalloc byte[128 + 32 + listed.Length];
        int m = 0;
        Append(middle, ref m, name[..Math.Min(name.Length, 128)]);
        Append(middle, ref m, "', with args beginning with: "u8);
        Append(middle, ref m, listed[..at]);
        WriteError(reply, "-ERR unknown command '"u8, middle[..m], "\r\n"u8);
    }

    // An error line with client-supplied text in the middle: CR and LF in it become spaces,
    // as Redis does, so that the reply stays one line.
    private static void WriteError(ReplyBuffer reply, ReadOnlySpan<byte> head, ReadOnlySpan<byte> middle, ReadOnlySpan<byte> tail)
    {
        reply.Write(head);
        Span<byte> clean = stackalloc byte[middle.Length];
        middle.CopyTo(clean);
        clean.Replace((byte)'\r', (byte)' ');
        clean.Replace((byte)'\n', (byte)' ');
        reply.Write(clean);
        reply.Write(tail);
    }
}
