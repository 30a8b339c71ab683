using System;
using System.Linq;
using System.Reflection;

namespace Pike.Reactor.ApiDocs;

/// <summary>The C# compiler's documentation IDs ("T:", "M:", "P:", "F:", "E:"), computed from reflection.</summary>
internal static class DocId
{
    public static string Of(Type type) => "T:" + TypeName(type);

    public static string Of(MemberInfo member) => member switch
    {
        Type type => Of(type),
        ConstructorInfo c => "M:" + TypeName(c.DeclaringType!) + "." + (c.IsStatic ? "#cctor" : "#ctor") + Parameters(c.GetParameters()),
        MethodInfo m => "M:" + TypeName(m.DeclaringType!) + "." + m.Name
            + (m.IsGenericMethodDefinition ? "``" + m.GetGenericArguments().Length : "")
            + Parameters(m.GetParameters())
            + (m.Name is "op_Implicit" or "op_Explicit" ? "~" + Reference(m.ReturnType) : ""),
        PropertyInfo p => "P:" + TypeName(p.DeclaringType!) + "." + p.Name + Parameters(p.GetIndexParameters()),
        FieldInfo f => "F:" + TypeName(f.DeclaringType!) + "." + f.Name,
        EventInfo e => "E:" + TypeName(e.DeclaringType!) + "." + e.Name,
        _ => throw new ArgumentException($"No documentation ID for {member}", nameof(member)),
    };

    private static string TypeName(Type type) =>
        type.IsNested ? TypeName(type.DeclaringType!) + "." + type.Name : type.Namespace + "." + type.Name;

    private static string Parameters(ParameterInfo[] parameters) =>
        parameters.Length == 0 ? "" : "(" + string.Join(",", parameters.Select(p => Reference(p.ParameterType))) + ")";

    private static string Reference(Type type)
    {
        if (type.IsByRef)
        {
            return Reference(type.GetElementType()!) + "@";
        }

        if (type.IsPointer)
        {
            return Reference(type.GetElementType()!) + "*";
        }

        if (type.IsArray)
        {
            return Reference(type.GetElementType()!) + "[" + new string(',', type.GetArrayRank() - 1) + "]";
        }

        if (type.IsGenericParameter)
        {
            return (type.DeclaringMethod is null ? "`" : "``") + type.GenericParameterPosition;
        }

        if (type.IsGenericType)
        {
            string name = type.IsNested ? Reference(type.DeclaringType!) + "." + type.Name : type.Namespace + "." + type.Name;
            int tick = name.LastIndexOf('`');
            return name[..tick] + "{" + string.Join(",", type.GetGenericArguments().Select(Reference)) + "}";
        }

        return TypeName(type);
    }
}
