using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Pike.Reactor.ApiDocs;

/// <summary>Writes one Markdown page per type, from reflection and the XML doc members.</summary>
internal sealed partial class PageWriter(IReadOnlyDictionary<string, XElement> docs, IReadOnlyDictionary<string, Type> known)
{
    private readonly NullabilityInfoContext _nullability = new();

    public static string PageName(Type type) => type.FullName!.Replace('+', '.') + ".md";

    public string Index(IReadOnlyList<Assembly> assemblies, IReadOnlyList<Type> types)
    {
        var text = new StringBuilder();
        text.Append("# API reference\n\n");
        text.Append("Generated from the XML documentation of the shipped assemblies by `./build.sh --target=Docs`\n");
        text.Append("(`build/Pike.Reactor.ApiDocs`); do not edit by hand. [docs/concepts.md](../concepts.md) tells how the pieces work together.\n");
        foreach (Assembly assembly in assemblies)
        {
            text.Append("\n## ").Append(assembly.GetName().Name).Append("\n\n");
            text.Append("| type | summary |\n| --- | --- |\n");
            foreach (Type type in types.Where(t => t.Assembly == assembly))
            {
                string summary = Inline(Doc(type)?.Element("summary"), type).Replace("|", "\\|", StringComparison.Ordinal);
                text.Append("| [`").Append(DisplayName(type)).Append("`](").Append(PageName(type)).Append(") | ").Append(FirstSentence(summary)).Append(" |\n");
            }
        }

        return text.ToString();
    }

    public string TypePage(Type type)
    {
        var text = new StringBuilder();
        XElement? doc = Doc(type);
        text.Append("# ").Append(DisplayName(type)).Append("\n\n");
        text.Append(Kind(type)).Append(" in namespace `").Append(type.Namespace).Append("`, assembly `").Append(type.Assembly.GetName().Name)
            .Append("` ([index](index.md))\n\n");
        text.Append("```csharp\n").Append(Declaration(type)).Append("\n```\n\n");
        AppendBlock(text, doc?.Element("summary"), type);
        AppendParameters(text, doc, type);
        AppendRemarks(text, doc, type);

        var groups = new (string Title, Func<MemberInfo, bool> Test)[]
        {
            ("Constructors", m => m is ConstructorInfo),
            ("Fields", m => m is FieldInfo),
            ("Properties", m => m is PropertyInfo),
            ("Methods", m => m is MethodInfo mi && !mi.Name.StartsWith("op_", StringComparison.Ordinal)),
            ("Operators", m => m is MethodInfo mi && mi.Name.StartsWith("op_", StringComparison.Ordinal)),
            ("Events", m => m is EventInfo),
        };
        List<MemberInfo> members = ApiRenderer.VisibleMembers(type)
            .OrderBy(m => m.Name, StringComparer.Ordinal).ThenBy(DocId.Of, StringComparer.Ordinal).ToList();
        foreach ((string title, Func<MemberInfo, bool> test) in groups)
        {
            List<MemberInfo> group = members.Where(test).ToList();
            if (type.IsEnum && title == "Fields")
            {
                AppendEnumValues(text, type, group);
                continue;
            }

            if (group.Count == 0)
            {
                continue;
            }

            text.Append("## ").Append(title).Append("\n\n");
            foreach (MemberInfo member in group)
            {
                AppendMember(text, type, member);
            }
        }

        return text.ToString().TrimEnd('\n') + "\n";
    }

    private void AppendEnumValues(StringBuilder text, Type type, List<MemberInfo> values)
    {
        text.Append("## Values\n\n| name | value | meaning |\n| --- | ---: | --- |\n");
        foreach (FieldInfo field in values.Cast<FieldInfo>().OrderBy(f => Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)))
        {
            string meaning = Inline(Doc(field)?.Element("summary"), type).Replace("|", "\\|", StringComparison.Ordinal);
            text.Append("| `").Append(field.Name).Append("` | ").Append(field.GetRawConstantValue()).Append(" | ").Append(meaning).Append(" |\n");
        }

        text.Append('\n');
    }

    private void AppendMember(StringBuilder text, Type type, MemberInfo member)
    {
        XElement? doc = Doc(member);
        text.Append("### <a id=\"").Append(Anchor(DocId.Of(member))).Append("\"></a>`").Append(ShortSignature(member)).Append("`\n\n");
        text.Append("```csharp\n").Append(Signature(member)).Append("\n```\n\n");
        if (doc is null && member is PropertyInfo && Doc(type)?.Elements("param").FirstOrDefault(p => (string?)p.Attribute("name") == member.Name) is { } positional)
        {
            AppendBlock(text, positional, type); // a record's positional property: its parameter's text
        }

        AppendBlock(text, doc?.Element("summary"), type);
        AppendParameters(text, doc, type);
        if (doc?.Element("returns") is { } returns)
        {
            text.Append("**Returns:** ").Append(Inline(returns, type)).Append("\n\n");
        }

        if (doc?.Element("value") is { } value)
        {
            text.Append("**Value:** ").Append(Inline(value, type)).Append("\n\n");
        }

        List<XElement> exceptions = doc?.Elements("exception").ToList() ?? [];
        if (exceptions.Count > 0)
        {
            text.Append("**Exceptions:**\n\n");
            foreach (XElement exception in exceptions)
            {
                text.Append("- ").Append(CrefText((string?)exception.Attribute("cref") ?? "")).Append(": ").Append(Inline(exception, type)).Append('\n');
            }

            text.Append('\n');
        }

        AppendRemarks(text, doc, type);
    }

    private void AppendParameters(StringBuilder text, XElement? doc, Type context)
    {
        List<XElement> parameters = doc?.Elements("param").Concat(doc.Elements("typeparam")).ToList() ?? [];
        if (parameters.Count == 0 || doc!.Name == "member" && ((string?)doc.Attribute("name"))!.StartsWith("T:", StringComparison.Ordinal) && !context.IsClass)
        {
            return;
        }

        text.Append("**Parameters:**\n\n");
        foreach (XElement parameter in parameters)
        {
            text.Append("- `").Append((string?)parameter.Attribute("name")).Append("`: ").Append(Inline(parameter, context)).Append('\n');
        }

        text.Append('\n');
    }

    private void AppendRemarks(StringBuilder text, XElement? doc, Type context)
    {
        if (doc?.Element("remarks") is { } remarks)
        {
            // A list or code block must start a line of its own to render as one.
            string rendered = Inline(remarks, context);
            bool block = rendered.StartsWith("- ", StringComparison.Ordinal) || rendered.StartsWith("```", StringComparison.Ordinal);
            text.Append(block ? "**Remarks:**\n\n" : "**Remarks:** ");
            AppendBlock(text, remarks, context);
        }
    }

    private void AppendBlock(StringBuilder text, XElement? element, Type context)
    {
        if (element is null)
        {
            return;
        }

        string rendered = Inline(element, context);
        if (rendered.Length > 0)
        {
            text.Append(rendered).Append("\n\n");
        }
    }

    /// <summary>The member's doc, with inheritdoc resolved to the base member's (or a line naming it).</summary>
    private XElement? Doc(MemberInfo member)
    {
        if (!docs.TryGetValue(DocId.Of(member), out XElement? doc))
        {
            return null;
        }

        XElement? inherit = doc.Element("inheritdoc");
        if (inherit is null)
        {
            return doc;
        }

        // <inheritdoc cref="..."/> beside the member's own elements: its own come first, and
        // what it does not say (a summary, a param, an exception of another type) comes from
        // the member named.
        if (inherit.Attribute("cref")?.Value is { } cref && docs.TryGetValue(cref, out XElement? source) && source.Element("inheritdoc") is null)
        {
            var merged = new XElement(doc.Name, doc.Attributes(), doc.Elements().Where(e => e.Name != "inheritdoc"));
            foreach (XElement element in source.Elements())
            {
                string? key = element.Attribute("name")?.Value ?? element.Attribute("cref")?.Value;
                bool present = merged.Elements(element.Name).Any(own => (own.Attribute("name")?.Value ?? own.Attribute("cref")?.Value) == key);
                if (!present)
                {
                    merged.Add(new XElement(element));
                }
            }

            return merged;
        }

        MemberInfo? inherited = Inherited(member);
        if (inherited is not null && Doc(inherited) is { } baseDoc)
        {
            return baseDoc;
        }

        string from = inherited is null ? "the base" : $"`{DisplayName(inherited.DeclaringType!)}.{inherited.Name}`";
        return new XElement("member", new XElement("summary", $"Inherited from {from}."));
    }

    private static MemberInfo? Inherited(MemberInfo member)
    {
        switch (member)
        {
            case Type type:
                return type.BaseType;
            case MethodInfo method when method.GetBaseDefinition() is { } definition && definition != method:
                return definition;
            case MethodInfo method:
                return InterfaceMember(method);
            case PropertyInfo property when (property.GetMethod ?? property.SetMethod) is { } accessor:
                MethodInfo? baseAccessor = accessor.GetBaseDefinition() != accessor ? accessor.GetBaseDefinition() : InterfaceMember(accessor);
                return baseAccessor?.DeclaringType?.GetProperty(property.Name, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static);
            default:
                return null;
        }
    }

    private static MethodInfo? InterfaceMember(MethodInfo method)
    {
        foreach (Type face in method.DeclaringType!.GetInterfaces())
        {
            InterfaceMapping map = method.DeclaringType.GetInterfaceMap(face);
            int index = Array.IndexOf(map.TargetMethods, method);
            if (index >= 0)
            {
                return map.InterfaceMethods[index];
            }
        }

        return null;
    }

    private string Inline(XElement? element, Type context)
    {
        if (element is null)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (XNode node in element.Nodes())
        {
            text.Append(node switch
            {
                XText t => Space().Replace(t.Value, " "),
                XElement { Name.LocalName: "see" or "seealso" } see when see.Attribute("langword") is { } word => "`" + word.Value + "`",
                XElement { Name.LocalName: "see" or "seealso" } see => see.IsEmpty || see.Value.Length == 0 ? CrefText((string?)see.Attribute("cref") ?? "") : CrefLink((string?)see.Attribute("cref") ?? "", see.Value),
                XElement { Name.LocalName: "paramref" or "typeparamref" } reference => "`" + (string?)reference.Attribute("name") + "`",
                XElement { Name.LocalName: "c" } code => "`" + code.Value + "`",
                XElement { Name.LocalName: "para" } para => "\n\n" + Inline(para, context).Trim() + "\n\n",
                XElement { Name.LocalName: "code" } code => "\n\n```csharp\n" + code.Value.Trim('\n') + "\n```\n\n",
                XElement { Name.LocalName: "list" } list => "\n\n" + string.Concat(list.Elements("item").Select(i => ListItem(i, context))) + "\n",
                XElement other => Inline(other, context),
                _ => "",
            });
        }

        string result = text.ToString();
        result = BlankLines().Replace(result, "\n\n");
        var lines = new List<string>();
        bool inCode = false;
        foreach (string line in result.Split('\n'))
        {
            inCode ^= line.StartsWith("```", StringComparison.Ordinal);
            lines.Add(inCode ? line.TrimEnd() : line.Trim());
        }

        return string.Join("\n", lines).Trim();
    }

    /// <summary>One item of a doc comment's list: its term (in code font) and its description.</summary>
    private string ListItem(XElement item, Type context)
    {
        string description = Inline(item.Element("description") ?? item, context).Trim();
        string term = Inline(item.Element("term"), context).Trim();
        if (term.Length > 0 && !term.StartsWith('`'))
        {
            term = "`" + term + "`";
        }

        return "- " + (term.Length > 0 ? term + ": " : "") + description + "\n";
    }

    /// <summary>A cref as a link when it names a type of ours (its page, and the member's anchor).</summary>
    private string CrefText(string cref) => CrefLink(cref, null);

    private string CrefLink(string cref, string? label)
    {
        if (cref.Length < 2 || cref[1] != ':')
        {
            return "`" + cref + "`";
        }

        string kind = cref[..1];
        string path = cref[2..];
        int paren = path.IndexOf('(', StringComparison.Ordinal);
        string name = paren < 0 ? path : path[..paren];
        string typeName = kind == "T" ? name : name[..name.LastIndexOf('.')];
        string shortName = kind == "T" ? Last(name) : Last(typeName) + "." + Last(name).Replace("#ctor", Last(typeName), StringComparison.Ordinal);
        string shown = label ?? "`" + TypeParameters().Replace(shortName, "") + "`";
        if (known.TryGetValue("T:" + typeName, out Type? target))
        {
            return "[" + shown + "](" + PageName(target) + (kind == "T" ? "" : "#" + Anchor(cref)) + ")";
        }

        return shown;
    }

    private static string Last(string dotted) => dotted[(dotted.LastIndexOf('.') + 1)..];

    internal static string Anchor(string docId) => NonWord().Replace(docId.ToLowerInvariant(), "-").Trim('-');

    private static string FirstSentence(string summary)
    {
        int end = summary.IndexOf(". ", StringComparison.Ordinal);
        return (end < 0 ? summary : summary[..(end + 1)]).Replace("\n", " ", StringComparison.Ordinal);
    }

    private static string Kind(Type type) =>
        type.IsEnum ? "Enum"
        : type.IsInterface ? "Interface"
        : type.IsValueType ? "Struct"
        : typeof(Delegate).IsAssignableFrom(type) ? "Delegate"
        : IsRecord(type) ? "Record"
        : type.IsAbstract && type.IsSealed ? "Static class"
        : "Class";

    private static bool IsRecord(Type type) => type.GetMethod("<Clone>$") is not null;

    private string Declaration(Type type)
    {
        var text = new StringBuilder("public ");
        if (type.IsEnum)
        {
            return text.Append("enum ").Append(type.Name).Append(" : ").Append(TypeRef(Enum.GetUnderlyingType(type))).ToString();
        }

        if (type.IsAbstract && type.IsSealed)
        {
            text.Append("static ");
        }
        else if (type.IsInterface)
        {
            // no modifier
        }
        else if (type.IsAbstract)
        {
            text.Append("abstract ");
        }
        else if (type.IsSealed && !type.IsValueType)
        {
            text.Append("sealed ");
        }

        if (type.IsValueType && type.IsDefined(typeof(System.Runtime.CompilerServices.IsReadOnlyAttribute)))
        {
            text.Append("readonly ");
        }

        text.Append(type.IsInterface ? "interface " : type.IsValueType ? "struct " : IsRecord(type) ? "record " : "class ").Append(DisplayName(type));
        if (IsRecord(type) && type.GetConstructors().FirstOrDefault(c => c.GetParameters() is not [{ } p] || p.ParameterType != type) is { } primary)
        {
            text.Append('(').Append(string.Join(", ", primary.GetParameters().Select(Parameter))).Append(')');
        }

        var bases = new List<string>();
        if (type.BaseType is { } baseType && baseType != typeof(object) && baseType != typeof(ValueType))
        {
            bases.Add(TypeRef(baseType));
        }

        IEnumerable<Type> inherited = type.BaseType?.GetInterfaces() ?? [];
        bases.AddRange(type.GetInterfaces().Except(inherited)
            .Where(i => !(IsRecord(type) && i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEquatable<>)))
            .Select(TypeRef).Order(StringComparer.Ordinal));
        if (bases.Count > 0)
        {
            text.Append(" : ").Append(string.Join(", ", bases));
        }

        return text.ToString();
    }

    private static string ShortSignature(MemberInfo member) => member switch
    {
        ConstructorInfo c => DisplayName(c.DeclaringType!).Split('<')[0] + "(" + string.Join(", ", c.GetParameters().Select(p => TypeRef(p.ParameterType))) + ")",
        MethodInfo m => m.Name + GenericArguments(m) + "(" + string.Join(", ", m.GetParameters().Select(p => TypeRef(p.ParameterType))) + ")",
        _ => member.Name,
    };

    private string Signature(MemberInfo member)
    {
        switch (member)
        {
            case ConstructorInfo c:
                return Access(c) + DisplayName(c.DeclaringType!).Split('<')[0] + "(" + string.Join(", ", c.GetParameters().Select(Parameter)) + ");";
            case MethodInfo m:
                return Access(m) + Modifiers(m) + Nullable(m.ReturnParameter) + " " + m.Name + GenericArguments(m) + "(" + string.Join(", ", m.GetParameters().Select(Parameter)) + ");";
            case PropertyInfo p:
                MethodInfo accessor = (p.GetMethod ?? p.SetMethod)!;
                string accessors = string.Join(" ", new[] { p.GetMethod, p.SetMethod }.Where(a => a is not null && (a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly))
                    .Select(a => (a == p.SetMethod && a!.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.Name == "IsExternalInit") ? "init" : a == p.GetMethod ? "get" : "set") + ";"));
                return Access(accessor) + Modifiers(accessor) + Nullable(p) + " " + p.Name + " { " + accessors + " }";
            case FieldInfo f:
                string constant = f.IsLiteral ? "const " : (f.IsStatic ? "static " : "") + (f.IsInitOnly ? "readonly " : "");
                string value = f.IsLiteral ? " = " + Literal(f.GetRawConstantValue()) : "";
                return Access(f) + constant + Nullable(f) + " " + f.Name + value + ";";
            case EventInfo e:
                return Access(e.AddMethod!) + Modifiers(e.AddMethod!) + "event " + Nullable(e) + " " + e.Name + ";";
            default:
                return member.Name;
        }
    }

    private static string Literal(object? value) => value switch
    {
        null => "null",
        string s => "\"" + s + "\"",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => value.ToString()!,
    };

    private static string Access(MethodBase method) =>
        method.IsPublic ? "public " : method.IsFamilyOrAssembly ? "protected internal " : "protected ";

    private static string Access(FieldInfo field) =>
        field.IsPublic ? "public " : field.IsFamilyOrAssembly ? "protected internal " : "protected ";

    private static string Modifiers(MethodInfo method)
    {
        if (method.IsStatic)
        {
            return "static ";
        }

        if (method.DeclaringType!.IsInterface)
        {
            return "";
        }

        bool isOverride = method.GetBaseDefinition() != method;
        return method.IsAbstract ? "abstract "
            : isOverride ? (method.IsFinal ? "sealed override " : "override ")
            : method.IsVirtual && !method.IsFinal ? "virtual "
            : "";
    }

    private static string GenericArguments(MethodInfo method) =>
        method.IsGenericMethodDefinition ? "<" + string.Join(", ", method.GetGenericArguments().Select(a => a.Name)) + ">" : "";

    private string Parameter(ParameterInfo parameter)
    {
        Type type = parameter.ParameterType;
        string prefix = type.IsByRef ? (parameter.IsOut ? "out " : parameter.IsIn ? "in " : "ref ") : "";
        if (parameter.IsDefined(typeof(ParamArrayAttribute)))
        {
            prefix = "params ";
        }

        string text = prefix + Nullable(parameter) + " " + parameter.Name;
        if (parameter.HasDefaultValue)
        {
            text += " = " + (parameter.DefaultValue is null && type.IsValueType && System.Nullable.GetUnderlyingType(type) is null ? "default" : Literal(parameter.DefaultValue));
        }

        return text;
    }

    private string Nullable(ParameterInfo parameter) => WithNullability(parameter.ParameterType, () => _nullability.Create(parameter));

    private string Nullable(PropertyInfo property) => WithNullability(property.PropertyType, () => _nullability.Create(property));

    private string Nullable(FieldInfo field) => WithNullability(field.FieldType, () => _nullability.Create(field));

    private string Nullable(EventInfo e) => WithNullability(e.EventHandlerType!, () => _nullability.Create(e));

    private static string WithNullability(Type type, Func<NullabilityInfo> info)
    {
        Type shown = type.IsByRef ? type.GetElementType()! : type;
        string name = TypeRef(shown);
        if (!shown.IsValueType && !shown.IsPointer && info().ReadState == NullabilityState.Nullable)
        {
            name += "?";
        }

        return name;
    }

    private static string DisplayName(Type type)
    {
        if (!type.IsGenericType)
        {
            return type.Name;
        }

        string name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
        return name + "<" + string.Join(", ", type.GetGenericArguments().Select(a => a.Name)) + ">";
    }

    private static readonly Dictionary<Type, string> Keywords = new()
    {
        [typeof(void)] = "void", [typeof(bool)] = "bool", [typeof(byte)] = "byte", [typeof(sbyte)] = "sbyte",
        [typeof(short)] = "short", [typeof(ushort)] = "ushort", [typeof(int)] = "int", [typeof(uint)] = "uint",
        [typeof(long)] = "long", [typeof(ulong)] = "ulong", [typeof(nint)] = "nint", [typeof(nuint)] = "nuint",
        [typeof(float)] = "float", [typeof(double)] = "double", [typeof(decimal)] = "decimal", [typeof(char)] = "char",
        [typeof(string)] = "string", [typeof(object)] = "object",
    };

    private static string TypeRef(Type type)
    {
        if (Keywords.TryGetValue(type, out string? keyword))
        {
            return keyword;
        }

        if (type.IsByRef)
        {
            return TypeRef(type.GetElementType()!);
        }

        if (type.IsPointer)
        {
            return TypeRef(type.GetElementType()!) + "*";
        }

        if (type.IsArray)
        {
            return TypeRef(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        if (System.Nullable.GetUnderlyingType(type) is { } underlying)
        {
            return TypeRef(underlying) + "?";
        }

        if (type.IsGenericType)
        {
            string name = type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)];
            return name + "<" + string.Join(", ", type.GetGenericArguments().Select(TypeRef)) + ">";
        }

        return type.Name;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Space();

    [GeneratedRegex(@"\n\s*\n(\s*\n)+")]
    private static partial Regex BlankLines();

    [GeneratedRegex(@"[^a-z0-9]+")]
    private static partial Regex NonWord();

    [GeneratedRegex(@"`\d+")]
    private static partial Regex TypeParameters();
}
