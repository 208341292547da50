import { prisma } from "../lib/prisma";

// Read on every request, never at build time (the build has no database).
export const dynamic = "force-dynamic";

export default async function Home() {
  const greeting = await prisma.greeting.findFirst({ orderBy: { id: "asc" } });
  return (
    <main>
      <h1 id="greeting">{greeting ? greeting.message : "No greeting yet: has the migration run?"}</h1>
    </main>
  );
}
