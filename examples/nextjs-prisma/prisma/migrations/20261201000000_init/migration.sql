-- CreateTable
CREATE TABLE "Greeting" (
    "id" SERIAL NOT NULL,
    "message" TEXT NOT NULL,

    CONSTRAINT "Greeting_pkey" PRIMARY KEY ("id")
);

-- The row the page reads.
INSERT INTO "Greeting" ("message") VALUES ('Hello from PostgreSQL, read through Prisma');
