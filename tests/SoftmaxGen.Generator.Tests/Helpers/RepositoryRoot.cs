using System;
using System.IO;

namespace SoftmaxGen.Generator.Tests;

/// <summary>The repository's root folder, found from the test binaries (the folder that holds SoftmaxGen.sln).</summary>
public static class RepositoryRoot
{
    public static readonly string Path = Find();

    private static string Find()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(folder.FullName, "SoftmaxGen.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("SoftmaxGen.sln was not found above " + AppContext.BaseDirectory);
    }
}
