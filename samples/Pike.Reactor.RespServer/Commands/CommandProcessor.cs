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

    /// <summary>
    /// The store's lock when several loops share it (null with one loop): every command that
    /// reads or writes the store holds it for that command alone (INCR and MSET stay atomic);
    /// the rest (PING, ECHO, CLIENT, ...) never take it.
    /// </summary>
    public System.Threading.Lock? Gate { get; init; }

    /// <summary>Which loop of the server this processor serves (0 with one loop); INFO's <c>pike_loop</c>.</summary>
    public int Loop { get; init; }

    /// <summary>Whether the last <see cref="Execute(RequestInput, ReadOnlySpan{ArgRange}, ReplyBuffer, ClientSession)"/> kept the request's large argument as a value (its array now belongs to the store).</summary>
    public bool TookLargeArgument { get; private set; }

    public CommandOutcome Execute(ReadOnlySpan<byte> input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session) =>
        Execute(new RequestInput(input), args, reply, session);

    public CommandOutcome Execute(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
    {
        TookLargeArgument = false;
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
        if (Gate is { } gate && UsesStore(name))
        {
            lock (gate)
            {
                return Dispatch(input, args, reply, session, name);
            }
        }

        return Dispatch(input, args, reply, session, name);
    }

    /// <summary>
    /// The commands that touch the store, and so hold <see cref="Gate"/>: a command added to
    /// <see cref="Dispatch"/> that reads or writes the store is added here too.
    /// </summary>
    private static bool UsesStore(ReadOnlySpan<byte> name) => name.Length switch
    {
        3 => Is(name, "GET"u8) || Is(name, "SET"u8) || Is(name, "DEL"u8),
        4 => Is(name, "INCR"u8) || Is(name, "MGET"u8) || Is(name, "MSET"u8) || Is(name, "INFO"u8),
        6 => Is(name, "EXISTS"u8) || Is(name, "UNLINK"u8) || Is(name, "DBSIZE"u8),
        8 => Is(name, "FLUSHALL"u8),
        _ => false,
    };

    private CommandOutcome Dispatch(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session, ReadOnlySpan<byte> name)
    {
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
                    return Info(input, args, reply);
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

    private static ReadOnlySpan<byte> Arg(RequestInput input, ReadOnlySpan<ArgRange> args, int index) =>
        input[args[index]];

    private static bool Is(ReadOnlySpan<byte> name, ReadOnlySpan<byte> upper) => Ascii.EqualsIgnoreCase(name, upper);

    private static CommandOutcome Integer(long value, ReplyBuffer reply)
    {
        reply.WriteInteger(value);
        return CommandOutcome.Continue;
    }

    private static CommandOutcome Ping(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
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

    private static CommandOutcome Echo(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (ExpectArity(args, 2, "echo", reply))
        {
            reply.WriteBulk(Arg(input, args, 1));
        }

        return CommandOutcome.Continue;
    }

    private CommandOutcome Get(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

    private CommandOutcome Set(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

        SetValue(input, args, 1);
        reply.Write("+OK\r\n"u8);
        return CommandOutcome.Continue;
    }

    // The value after the key at keyIndex; a large argument received into its own array is kept as it is, not copied.
    private void SetValue(RequestInput input, ReadOnlySpan<ArgRange> args, int keyIndex)
    {
        if (args[keyIndex + 1].IsExternal && !TookLargeArgument)
        {
            store.Adopt(Arg(input, args, keyIndex), input.Large!);
            TookLargeArgument = true;
        }
        else
        {
            store.Set(Arg(input, args, keyIndex), Arg(input, args, keyIndex + 1));
        }
    }

    private CommandOutcome Delete(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, string command)
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

    private CommandOutcome Exists(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

    private CommandOutcome Increment(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

    private CommandOutcome MultiGet(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

    private CommandOutcome MultiSet(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 3 || args.Length % 2 == 0)
        {
            return ArityError("mset", reply);
        }

        for (int i = 1; i < args.Length; i += 2)
        {
            SetValue(input, args, i);
        }

        reply.Write("+OK\r\n"u8);
        return CommandOutcome.Continue;
    }

    private CommandOutcome FlushAll(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

    private static CommandOutcome Select(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

    private static CommandOutcome Command(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        // Clients ask for command metadata (redis-cli: COMMAND DOCS for its hints) and cope
        // with an empty answer; nothing here relies on it. The subcommands' arity and errors
        // are Redis's.
        if (args.Length == 1)
        {
            reply.Write("*0\r\n"u8);
            return CommandOutcome.Continue;
        }

        ReadOnlySpan<byte> sub = Arg(input, args, 1);
        if (Is(sub, "COUNT"u8))
        {
            return ExpectArity(args, 2, "command|count", reply) ? Integer(SupportedCommandCount, reply) : CommandOutcome.Continue;
        }

        if (Is(sub, "HELP"u8))
        {
            if (ExpectArity(args, 2, "command|help", reply))
            {
                reply.Write(HelpReplies.Command);
            }

            return CommandOutcome.Continue;
        }

        if (Is(sub, "DOCS"u8) || Is(sub, "INFO"u8))
        {
            reply.Write("*0\r\n"u8);
            return CommandOutcome.Continue;
        }

        if (Is(sub, "LIST"u8))
        {
            reply.Write(args.Length == 2 ? "*0\r\n"u8 : "-ERR syntax error\r\n"u8);
            return CommandOutcome.Continue;
        }

        if (Is(sub, "GETKEYS"u8) || Is(sub, "GETKEYSANDFLAGS"u8))
        {
            return args.Length < 4 ? ArityError(Is(sub, "GETKEYS"u8) ? "command|getkeys" : "command|getkeysandflags", reply) : GetKeys(input, args[2..], reply, Is(sub, "GETKEYSANDFLAGS"u8));
        }

        return UnknownSubcommand(sub, "COMMAND"u8, reply);
    }

    // COMMAND GETKEYS: the key positions of the commands this server has, as Redis's key specs give them.
    private static CommandOutcome GetKeys(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, bool withFlags)
    {
        ReadOnlySpan<byte> name = Arg(input, args, 0);
        int found = -1;
        for (int i = 0; i < CommandTable.Length; i++)
        {
            if (Ascii.EqualsIgnoreCase(name, CommandTable[i].Name))
            {
                found = i;
                break;
            }
        }

        if (found < 0)
        {
            reply.Write("-ERR Invalid command specified\r\n"u8);
            return CommandOutcome.Continue;
        }

        (byte[] _, int arity, int first, int step, bool toEnd, byte[] flags) = CommandTable[found];
        if (arity == 0)
        {
            // A container: its subcommand decides the arity; none of them has keys.
            if (args.Length < 2 || (arity = SubcommandArity(name, Arg(input, args, 1))) == 0)
            {
                reply.Write("-ERR Invalid command specified\r\n"u8);
                return CommandOutcome.Continue;
            }
        }

        if ((arity > 0 && args.Length != arity) || args.Length < -arity)
        {
            reply.Write("-ERR Invalid number of arguments specified for command\r\n"u8);
            return CommandOutcome.Continue;
        }

        if (first == 0)
        {
            reply.Write("-ERR The command has no key arguments\r\n"u8);
            return CommandOutcome.Continue;
        }

        int last = toEnd ? args.Length - 1 : first;
        reply.WriteArrayHeader(((last - first) / step) + 1);
        for (int i = first; i <= last; i += step)
        {
            if (withFlags)
            {
                reply.Write("*2\r\n"u8);
                reply.WriteBulk(Arg(input, args, i));
                reply.Write(flags);
            }
            else
            {
                reply.WriteBulk(Arg(input, args, i));
            }
        }

        return CommandOutcome.Continue;
    }

    private static int SubcommandArity(ReadOnlySpan<byte> container, ReadOnlySpan<byte> sub)
    {
        if (Is(container, "CONFIG"u8))
        {
            return Is(sub, "GET"u8) ? -3 : Is(sub, "SET"u8) ? -4 : Is(sub, "RESETSTAT"u8) || Is(sub, "HELP"u8) ? 2 : 0;
        }

        if (Is(container, "CLIENT"u8))
        {
            return Is(sub, "GETNAME"u8) || Is(sub, "ID"u8) || Is(sub, "HELP"u8) ? 2 : Is(sub, "SETNAME"u8) ? 3 : 0;
        }

        return Is(sub, "COUNT"u8) || Is(sub, "HELP"u8) ? 2 : Is(sub, "DOCS"u8) || Is(sub, "INFO"u8) || Is(sub, "LIST"u8) ? -2 : Is(sub, "GETKEYS"u8) || Is(sub, "GETKEYSANDFLAGS"u8) ? -4 : 0;
    }

    private static readonly byte[] ReadFlags = "*2\r\n+RO\r\n+access\r\n"u8.ToArray();
    private static readonly byte[] WriteFlags = "*2\r\n+OW\r\n+update\r\n"u8.ToArray();
    private static readonly byte[] UpdateFlags = "*2\r\n+RW\r\n+update\r\n"u8.ToArray();
    private static readonly byte[] DeleteFlags = "*2\r\n+RM\r\n+delete\r\n"u8.ToArray();
    private static readonly byte[] ExistsFlags = "*1\r\n+RO\r\n"u8.ToArray();

    // Redis's arity (negative: at least) and key positions (first key, step, to the last argument) of each command answered here; arity 0: a container.
    private static readonly (byte[] Name, int Arity, int FirstKey, int Step, bool ToEnd, byte[] Flags)[] CommandTable =
    [
        ("get"u8.ToArray(), 2, 1, 1, false, ReadFlags),
        ("set"u8.ToArray(), -3, 1, 1, false, WriteFlags),
        ("del"u8.ToArray(), -2, 1, 1, true, DeleteFlags),
        ("unlink"u8.ToArray(), -2, 1, 1, true, DeleteFlags),
        ("exists"u8.ToArray(), -2, 1, 1, true, ExistsFlags),
        ("incr"u8.ToArray(), 2, 1, 1, false, UpdateFlags),
        ("mget"u8.ToArray(), -2, 1, 1, true, ReadFlags),
        ("mset"u8.ToArray(), -3, 1, 2, true, WriteFlags),
        ("ping"u8.ToArray(), -1, 0, 0, false, []),
        ("echo"u8.ToArray(), 2, 0, 0, false, []),
        ("dbsize"u8.ToArray(), 1, 0, 0, false, []),
        ("flushall"u8.ToArray(), -1, 0, 0, false, []),
        ("select"u8.ToArray(), 2, 0, 0, false, []),
        ("quit"u8.ToArray(), -1, 0, 0, false, []),
        ("info"u8.ToArray(), -1, 0, 0, false, []),
        ("publish"u8.ToArray(), 3, 0, 0, false, []),
        ("subscribe"u8.ToArray(), -2, 0, 0, false, []),
        ("unsubscribe"u8.ToArray(), -1, 0, 0, false, []),
        ("command"u8.ToArray(), 0, 0, 0, false, []),
        ("config"u8.ToArray(), 0, 0, 0, false, []),
        ("client"u8.ToArray(), 0, 0, 0, false, []),
    ];

    private static int SupportedCommandCount => CommandTable.Length;

    private static CommandOutcome Config(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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

        if (Is(sub, "SET"u8))
        {
            return ConfigSet(input, args, reply);
        }

        if (Is(sub, "RESETSTAT"u8))
        {
            return ExpectArity(args, 2, "config|resetstat", reply) ? Ok(reply) : CommandOutcome.Continue;
        }

        if (Is(sub, "HELP"u8))
        {
            if (ExpectArity(args, 2, "config|help", reply))
            {
                reply.Write(HelpReplies.Config);
            }

            return CommandOutcome.Continue;
        }

        return UnknownSubcommand(sub, "CONFIG"u8, reply);
    }

    // CONFIG SET checks names and values as Redis does and answers +OK, but changes nothing:
    // none of these settings means anything to this server.
    private static CommandOutcome ConfigSet(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        if (args.Length < 4)
        {
            return ArityError("config|set", reply);
        }

        if (args.Length % 2 == 1)
        {
            reply.Write("-ERR syntax error\r\n"u8);
            return CommandOutcome.Continue;
        }

        Span<int> seen = stackalloc int[Math.Min((args.Length - 2) / 2, 64)];
        int seenCount = 0;
        for (int i = 2; i < args.Length; i += 2)
        {
            ReadOnlySpan<byte> name = Arg(input, args, i);
            int config = -1;
            for (int c = 0; c < ConfigTable.Length; c++)
            {
                if (Ascii.EqualsIgnoreCase(name, ConfigTable[c].Name))
                {
                    config = c;
                    break;
                }
            }

            if (config < 0)
            {
                WriteError(reply, "-ERR Unknown option or number of arguments for CONFIG SET - '"u8, name[..Math.Min(name.Length, 128)], "'\r\n"u8);
                return CommandOutcome.Continue;
            }

            if (seen[..seenCount].Contains(config) || seenCount == seen.Length)
            {
                return ConfigSetFailed(name, "duplicate parameter"u8, reply);
            }

            seen[seenCount++] = config;
        }

        for (int i = 2; i < args.Length; i += 2)
        {
            ReadOnlySpan<byte> name = Arg(input, args, i);
            ReadOnlySpan<byte> value = Arg(input, args, i + 1);
            if (Is(name, "databases"u8))
            {
                return ConfigSetFailed(name, "can't set immutable config"u8, reply);
            }

            if (Is(name, "timeout"u8) && (!RespInteger.TryParse(value, out long seconds) || seconds < 0 || seconds > int.MaxValue))
            {
                return ConfigSetFailed(name, RespInteger.TryParse(value, out _) ? "argument must be between 0 and 2147483647 inclusive"u8 : "argument couldn't be parsed into an integer"u8, reply);
            }

            if ((Is(name, "appendonly"u8) || Is(name, "slave-read-only"u8) || Is(name, "replica-read-only"u8)) && !Is(value, "YES"u8) && !Is(value, "NO"u8))
            {
                return ConfigSetFailed(name, "argument must be 'yes' or 'no'"u8, reply);
            }

            if (Is(name, "save"u8) && !IsSaveParameters(value))
            {
                return ConfigSetFailed(name, "Invalid save parameters"u8, reply);
            }
        }

        return Ok(reply);
    }

    // Redis's save setting: empty, or pairs of non-negative numbers separated by spaces.
    private static bool IsSaveParameters(ReadOnlySpan<byte> value)
    {
        int numbers = 0;
        foreach (Range part in value.Split((byte)' '))
        {
            ReadOnlySpan<byte> number = value[part];
            if (number.IsEmpty)
            {
                continue;
            }

            if (!RespInteger.TryParse(number, out long n) || n < 0)
            {
                return false;
            }

            numbers++;
        }

        return numbers % 2 == 0;
    }

    private static CommandOutcome ConfigSetFailed(ReadOnlySpan<byte> name, ReadOnlySpan<byte> reason, ReplyBuffer reply)
    {
        Span<byte> tail = stackalloc byte[reason.Length + 8];
        int at = 0;
        Append(tail, ref at, "') - "u8);
        Append(tail, ref at, reason);
        Append(tail, ref at, "\r\n"u8);
        WriteError(reply, "-ERR CONFIG SET failed (possibly related to argument '"u8, name[..Math.Min(name.Length, 128)], tail[..at]);
        return CommandOutcome.Continue;
    }

    private static CommandOutcome Ok(ReplyBuffer reply)
    {
        reply.Write("+OK\r\n"u8);
        return CommandOutcome.Continue;
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

    private static CommandOutcome Client(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
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
            if (args.Length != 2)
            {
                return ArityError("client|getname", reply);
            }

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
            if (args.Length != 2)
            {
                return ArityError("client|id", reply);
            }

            reply.WriteInteger(session.Id);
        }
        else if (Is(sub, "SETINFO"u8))
        {
            // Redis 7.2's library name/version report (7.0 does not know it); nothing to record.
            if (args.Length != 4)
            {
                return ArityError("client|setinfo", reply);
            }

            reply.Write("+OK\r\n"u8);
        }
        else if (Is(sub, "HELP"u8))
        {
            if (args.Length != 2)
            {
                return ArityError("client|help", reply);
            }

            reply.Write(HelpReplies.Client);
        }
        else
        {
            return UnknownSubcommand(sub, "CLIENT"u8, reply);
        }

        return CommandOutcome.Continue;
    }

    private static CommandOutcome Subscribe(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
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

    private static CommandOutcome Unsubscribe(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply, ClientSession session)
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

    private CommandOutcome Info(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
    {
        // Sampled first, so that the reply's own formatting is not counted.
        long allocated = stats.AllocatedBytes();
        Span<byte> text = stackalloc byte[1024];
        int at = 0;

        // As Redis: no argument, "default", "all" or "everything" give every section; otherwise
        // only the sections named, separated by an empty line (unknown names give nothing).
        bool all = args.Length == 1 || AnySection(input, args, "DEFAULT"u8) || AnySection(input, args, "ALL"u8) || AnySection(input, args, "EVERYTHING"u8);
        if (all || AnySection(input, args, "SERVER"u8))
        {
            Append(text, ref at, "# Server\r\nredis_version:"u8);
            Append(text, ref at, CompatibleRedisVersion);
            Append(text, ref at, "\r\nredis_mode:standalone\r\npike_poller:"u8);
            Append(text, ref at, _pollerName);
            Append(text, ref at, "\r\npike_loop:"u8);
            Append(text, ref at, Loop);
            Append(text, ref at, "\r\ntcp_port:"u8);
            Append(text, ref at, port());
            Append(text, ref at, "\r\n"u8);
        }

        if (all || AnySection(input, args, "CLIENTS"u8))
        {
            SectionBreak(text, ref at);
            Append(text, ref at, "# Clients\r\nconnected_clients:"u8);
            Append(text, ref at, stats.ConnectedClients);
            Append(text, ref at, "\r\n"u8);
        }

        if (all || AnySection(input, args, "STATS"u8))
        {
            SectionBreak(text, ref at);
            InfoStats(text, ref at, allocated);
        }

        if (all || AnySection(input, args, "REPLICATION"u8))
        {
            SectionBreak(text, ref at);
            Append(text, ref at, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"u8);
        }

        if (all || AnySection(input, args, "KEYSPACE"u8))
        {
            SectionBreak(text, ref at);
            Append(text, ref at, "# Keyspace\r\n"u8);
            if (store.Count > 0)
            {
                Append(text, ref at, "db0:keys="u8);
                Append(text, ref at, store.Count);
                Append(text, ref at, ",expires=0,avg_ttl=0\r\n"u8);
            }
        }

        reply.WriteBulk(text[..at]);
        return CommandOutcome.Continue;
    }

    private static bool AnySection(RequestInput input, ReadOnlySpan<ArgRange> args, ReadOnlySpan<byte> section)
    {
        for (int i = 1; i < args.Length; i++)
        {
            if (Is(Arg(input, args, i), section))
            {
                return true;
            }
        }

        return false;
    }

    private static void SectionBreak(Span<byte> text, ref int at)
    {
        if (at > 0)
        {
            Append(text, ref at, "\r\n"u8);
        }
    }

    private void InfoStats(Span<byte> text, ref int at, long allocated)
    {
        Append(text, ref at, "# Stats\r\ntotal_connections_received:"u8);
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
        Append(text, ref at, "\r\n"u8);
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
    private static void WriteUnknownCommand(RequestInput input, ReadOnlySpan<ArgRange> args, ReplyBuffer reply)
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
