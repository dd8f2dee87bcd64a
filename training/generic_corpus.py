"""Deterministic generic small-talk corpus (Chinese + English) for pretraining the embedded tiny base.

The assistant side is deliberately plain and neutral: it never uses the persona markers in PERSONA_MARKERS,
so a later test can tell the base model (rarely produces them) from a fine-tuned clone (often does).
Stdlib only; the same seed always gives the same conversations.
"""
from __future__ import annotations

import random

# Style markers that belong to the fine-tuned persona, never to the base.
PERSONA_MARKERS: tuple[str, ...] = ("~", "～", "冲鸭", "绝了", "🐱", "[旺柴]", "哈哈哈")

Exchange = tuple[tuple[str, ...], tuple[str, ...]]  # (user variants, assistant variants)

# Slot values; one value per slot is drawn per conversation so follow-up turns stay consistent.
ZH_SLOTS: dict[str, tuple[str, ...]] = {
    "food": ("火锅", "饺子", "拉面", "炒饭", "寿司", "烤鸭", "麻辣烫", "包子", "米线", "披萨", "汉堡", "沙拉",
             "牛肉面", "小笼包", "烧烤", "馄饨", "煎饼", "酸菜鱼", "番茄炒蛋", "黄焖鸡"),
    "meal": ("早饭", "午饭", "晚饭"),
    "city": ("北京", "上海", "成都", "杭州", "西安", "广州", "厦门", "青岛", "昆明", "南京", "重庆", "大理",
             "苏州", "长沙", "哈尔滨", "桂林"),
    "spot": ("博物馆", "老街", "海边", "古镇", "公园", "夜市", "山上", "湖边"),
    "genre": ("科幻片", "喜剧", "动画片", "纪录片", "悬疑片", "爱情片", "动作片", "老电影"),
    "pet": ("猫", "狗", "兔子", "仓鼠", "金鱼", "鹦鹉"),
    "pet_name": ("小白", "豆豆", "球球", "年糕", "土豆", "可乐", "花花", "团子"),
    "subject": ("数学", "英语", "历史", "物理", "化学", "编程", "经济学", "日语", "统计"),
    "activity": ("爬山", "看书", "打扫房间", "逛街", "去公园散步", "在家休息", "打球", "游泳", "见朋友",
                 "做饭", "骑车", "看展"),
    "task": ("开会", "写报告", "改方案", "整理数据", "做项目", "回邮件", "准备汇报", "写代码"),
    "day": ("今天", "明天", "这周末", "周六", "周日"),
    "weather": ("晴天", "下雨", "阴天", "刮大风", "有点冷", "挺热的", "多云"),
    "hours": ("两", "三", "四", "五"),
}

EN_SLOTS: dict[str, tuple[str, ...]] = {
    "food": ("pizza", "noodles", "sushi", "dumplings", "burgers", "fried rice", "pasta", "tacos", "salad",
             "curry", "ramen", "soup", "sandwiches", "hot pot", "barbecue", "pancakes"),
    "meal": ("breakfast", "lunch", "dinner"),
    "city": ("London", "Tokyo", "Paris", "New York", "Berlin", "Rome", "Seoul", "Sydney", "Lisbon", "Bangkok",
             "Toronto", "Vienna", "Prague", "Madrid", "Dublin", "Singapore"),
    "spot": ("the museum", "the old town", "the beach", "the market", "the park", "the harbour", "the castle",
             "the lake"),
    "genre": ("sci-fi movie", "comedy", "animated film", "documentary", "mystery", "romance", "action movie",
              "old classic"),
    "pet": ("cat", "dog", "rabbit", "hamster", "goldfish", "parrot"),
    "pet_name": ("Milo", "Luna", "Max", "Bella", "Charlie", "Daisy", "Oscar", "Coco"),
    "subject": ("math", "English", "history", "physics", "chemistry", "programming", "economics", "Spanish",
                "statistics"),
    "activity": ("hiking", "some reading", "cleaning the flat", "shopping", "a walk in the park", "resting at home",
                 "football", "swimming", "seeing friends", "cooking", "cycling", "a gallery visit"),
    "task": ("a report", "a proposal", "the new project", "a presentation", "some code", "the budget",
             "data cleanup", "customer emails"),
    "day": ("today", "tomorrow", "this weekend", "on Saturday", "on Sunday"),
    "weather": ("sunny", "rainy", "cloudy", "windy", "a bit cold", "quite hot", "grey"),
    "hours": ("two", "three", "four", "five"),
}

# Per language and topic: (openers, follow-ups). A conversation is one opener plus 0-2 follow-ups.
ZH: dict[str, tuple[list[Exchange], list[Exchange]]] = {
    "greetings": ([
        (("你好", "你好啊", "嗨，你好", "在吗？", "哈喽", "嗨"),
         ("你好，我在。有什么想聊的吗？", "你好，今天过得怎么样？", "在的，你说。")),
        (("早上好", "早啊", "早上好，起床了吗？"),
         ("早上好，刚起床，准备吃早饭。", "早，今天也是元气满满的一天。", "早上好，昨晚睡得还不错。")),
        (("晚上好", "晚上好，在忙吗？", "还没睡吗？"),
         ("晚上好，刚忙完，准备休息一下。", "还没睡，在看书。", "不忙，刚吃完晚饭。")),
        (("最近怎么样？", "好久不见，最近好吗？", "最近过得好吗？", "你最近还好吗？", "这段时间过得怎么样？"),
         ("挺好的，就是工作有点忙。你呢？", "还不错，最近生活比较规律。", "好久不见，我一切都好，谢谢关心。")),
    ], [
        (("你今天过得怎么样？", "今天顺利吗？", "今天过得好吗？", "今天怎么样？"),
         ("还可以，事情都按计划做完了。", "挺顺利的，下午还抽空出去走了走。", "一般般，有点累，不过还好。")),
        (("你在干嘛呢？", "现在在做什么？"),
         ("在家整理东西。", "刚下班，在回家的路上。", "在看一部{genre}。")),
        (("那我们改天再聊。", "先不打扰你了。", "我先去忙了。"),
         ("好的，改天聊。", "没事，有空再聊。", "好，你先忙，回头见。")),
        (("晚安", "我去睡了。"),
         ("晚安，早点休息。", "好的，晚安，明天见。")),
    ]),
    "food": ([
        (("你{meal}吃了吗？", "{meal}吃了没？", "吃{meal}了吗？"),
         ("吃了，吃的{food}。", "还没呢，正准备去吃。", "刚吃完，吃了{food}，味道不错。")),
        (("今天吃什么好呢？", "晚上吃什么？", "中午去哪吃？", "晚饭吃什么？", "午饭想吃什么？", "你想吃点什么？"),
         ("要不吃{food}吧，好久没吃了。", "我想吃{food}，你觉得怎么样？", "随便吧，附近那家{food}就不错。")),
        (("你喜欢吃{food}吗？", "{food}好吃吗？"),
         ("挺喜欢的，尤其是天冷的时候。", "还行，偶尔吃一次。", "喜欢，我经常吃。")),
    ], [
        (("你会做饭吗？", "平时自己做饭吗？"),
         ("会一点，简单的家常菜还可以。", "周末会自己做，平时一般在外面吃。", "不太会，只会煮面。")),
        (("附近有好吃的店吗？", "有什么推荐的餐厅吗？"),
         ("楼下有一家{food}店，味道挺好的。", "可以去商场那边看看，选择比较多。")),
        (("那我们一起去吧。", "下次一起去吃？"),
         ("好啊，到时候叫上我。", "可以，你定时间就行。")),
        (("吃饱了吗？", "味道怎么样？"),
         ("吃饱了，味道还不错。", "挺好吃的，下次还想来。", "一般，有点咸。")),
    ]),
    "weather": ([
        (("今天天气怎么样？", "外面天气如何？", "你那边天气好吗？", "天气好不好？", "外面冷不冷？", "今天热吗？"),
         ("今天{weather}，出门记得看看天气预报。", "{weather}，还算可以。", "我这边{weather}，你那边呢？")),
        (("{day}会下雨吗？", "{day}天气好吗？"),
         ("天气预报说{day}可能会下雨，记得带伞。", "听说{day}是晴天，适合出门。", "不太确定，出门前再看看预报吧。")),
        (("好冷啊", "今天好热", "最近天气变化好大"),
         ("是啊，注意多穿点衣服。", "确实，多喝点水，注意休息。", "换季的时候容易感冒，要注意身体。")),
    ], [
        (("要带伞吗？", "需要带外套吗？"),
         ("带上吧，以防万一。", "最好带一件，晚上会降温。")),
        (("这种天气适合做什么？", "天气这么好，不出去玩玩吗？"),
         ("适合出去走走，或者在家看书。", "打算下午去公园散散步。")),
        (("你喜欢什么样的天气？",),
         ("我比较喜欢晴天，不冷不热。", "喜欢下雨天，在家听雨挺舒服的。")),
    ]),
    "work": ([
        (("今天上班忙吗？", "工作忙不忙？", "最近工作怎么样？", "上班累不累？", "工作辛苦吗？", "最近忙什么呢？"),
         ("挺忙的，一直在{task}。", "还好，今天主要在{task}。", "最近比较忙，项目快到期了。")),
        (("你今天加班吗？", "今晚要加班吗？"),
         ("不用，今天可以准时下班。", "可能要加{hours}个小时的班。", "还不确定，看事情能不能做完。")),
        (("下班了吗？", "几点下班？"),
         ("刚下班，正在回家。", "还没有，大概六点下班。", "已经到家了。")),
    ], [
        (("累不累？", "辛苦吗？"),
         ("有点累，不过还能坚持。", "还好，习惯了。", "挺累的，回家想早点休息。")),
        (("同事们怎么样？", "你们团队人好吗？"),
         ("同事都挺好相处的。", "大家都很专业，合作挺顺利的。")),
        (("工作做完了吗？", "事情处理好了吗？"),
         ("差不多了，还剩一点明天再弄。", "做完了，终于可以放松一下。")),
        (("明天有什么安排？",),
         ("明天上午要{task}，下午比较空。", "明天还是{task}，应该不会太忙。")),
    ]),
    "weekend": ([
        (("周末有什么安排？", "这周末打算干嘛？", "周末去哪玩？", "周末做什么？", "周六有空吗？", "放假打算干什么？"),
         ("打算{activity}。", "还没想好，可能在家休息。", "约了朋友，准备一起{activity}。")),
        (("周末过得怎么样？", "上周末做了什么？"),
         ("挺放松的，主要是{activity}。", "还不错，周六{activity}，挺开心的。", "在家休息了两天，感觉好多了。")),
    ], [
        (("一个人去吗？", "和谁一起？"),
         ("和几个朋友一起。", "一个人，也挺自在的。", "和家人一起。")),
        (("要不要一起？", "我可以一起去吗？"),
         ("可以啊，一起去吧。", "好啊，人多热闹。")),
        (("几点出发？", "大概什么时候？"),
         ("上午十点左右吧。", "下午两点出发，你看可以吗？")),
        (("有什么推荐的吗？",),
         ("可以试试{activity}，挺放松的。", "天气好的话可以出去走走。")),
    ]),
    "travel": ([
        (("你去过{city}吗？", "{city}好玩吗？"),
         ("去过一次，{city}挺好玩的。", "还没去过，一直想去看看。", "去过，那边的{spot}很有意思。")),
        (("最近有出去旅游吗？", "今年打算去哪旅游？", "放假去哪里玩？", "想去哪里旅行？"),
         ("打算去{city}玩几天。", "最近没时间，想等假期再说。", "上个月刚去了{city}。")),
        (("我下周要去{city}了。", "我准备去{city}旅游。"),
         ("不错啊，可以去{spot}看看。", "挺好的，记得多拍点照片。", "{city}的{food}很有名，可以尝尝。")),
    ], [
        (("有什么推荐的地方吗？", "那边有什么好玩的？"),
         ("可以去{spot}看看，人不算太多。", "推荐去{spot}，风景很好。")),
        (("怎么过去比较方便？", "坐什么车去？"),
         ("坐高铁比较方便，几个小时就到了。", "可以坐飞机，省时间。")),
        (("去几天？", "打算玩多久？"),
         ("大概{hours}天。", "一个周末，时间有点紧。")),
        (("住哪里比较好？",),
         ("住市中心吧，出门方便。", "可以住在{spot}附近。")),
    ]),
    "movies": ([
        (("最近有什么好看的电影吗？", "有电影推荐吗？", "最近看电影了吗？", "有什么好看的片子吗？", "最近看了什么电影？"),
         ("最近看了一部{genre}，挺好看的。", "可以看看{genre}，比较轻松。", "最近没怎么看，有推荐吗？")),
        (("你喜欢看什么电影？", "平时喜欢什么类型的电影？"),
         ("我比较喜欢{genre}。", "什么都看一点，最近喜欢{genre}。")),
        (("周末要不要去看电影？", "一起去看电影吗？"),
         ("好啊，看什么？", "可以，晚上那场怎么样？", "这周可能没空，下周吧。")),
    ], [
        (("讲的是什么？", "剧情怎么样？"),
         ("剧情挺紧凑的，不剧透了。", "故事很简单，但是拍得很好。")),
        (("好看吗？", "值得看吗？"),
         ("值得一看，节奏不错。", "还可以，结尾有点仓促。", "挺好看的，推荐。")),
        (("在哪看的？",),
         ("在电影院看的。", "在家用电脑看的。")),
    ]),
    "pets": ([
        (("你养宠物吗？", "家里有宠物吗？", "你家有{pet}吗？", "你养{pet}吗？"),
         ("养了一只{pet}，叫{pet_name}。", "没有，不过挺想养一只{pet}的。", "有一只{pet}，已经三岁了。")),
        (("你喜欢{pet}吗？", "{pet}好养吗？"),
         ("喜欢，{pet}挺可爱的。", "还行，就是需要花时间照顾。", "挺好养的，注意按时喂食就行。")),
    ], [
        (("它叫什么名字？", "名字是什么？"),
         ("叫{pet_name}。", "它叫{pet_name}，家里人起的。")),
        (("它乖吗？", "调皮吗？"),
         ("挺乖的，就是有时候会捣乱。", "很乖，平时很安静。")),
        (("平时谁照顾它？",),
         ("主要是我照顾，家里人也会帮忙。", "我自己照顾，每天早晚喂一次。")),
    ]),
    "study": ([
        (("最近在学什么？", "你在学什么？", "最近在看什么书？", "学习怎么样？"),
         ("最近在学{subject}。", "在学{subject}，每天学{hours}个小时。", "在准备考试，主要复习{subject}。")),
        (("考试准备得怎么样了？", "要考试了吗？"),
         ("还在复习，{subject}有点难。", "准备得差不多了。", "下周考试，这几天在复习。")),
        (("{subject}难学吗？", "学{subject}有意思吗？"),
         ("刚开始有点难，慢慢就好了。", "挺有意思的，就是需要多练习。", "还行，坚持下去就好。")),
    ], [
        (("有什么学习方法吗？", "怎么学比较好？"),
         ("每天固定时间学习，多做练习。", "先把基础打好，再做题。")),
        (("学了多久了？",),
         ("差不多{hours}个月了。", "刚开始学，还不到一个月。")),
        (("一起学习吧。", "要不要一起去图书馆？"),
         ("好啊，明天上午去图书馆。", "可以，互相督促一下。")),
    ]),
}

EN: dict[str, tuple[list[Exchange], list[Exchange]]] = {
    "greetings": ([
        (("Hi", "Hello", "Hey there", "Hi, are you around?", "Hey", "Hi there"),
         ("Hi, I'm here. What's up?", "Hello, how is your day going?", "Hey, good to hear from you.")),
        (("Good morning", "Morning!", "Good morning, are you up?"),
         ("Good morning. Just got up and making breakfast.", "Morning. I slept well, thanks.")),
        (("Good evening", "Are you still up?", "Evening, are you busy?"),
         ("Good evening. Just finished work and resting now.", "Still up, reading a book.",
          "Not busy, just had dinner.")),
        (("How are you?", "How have you been?", "Long time no see, how are you?", "How are things?", "How is it going?", "How is your week going?"),
         ("I'm fine, thanks. A bit busy with work. And you?", "Pretty good, things have been calm lately.",
          "Long time no see. All good here, thanks for asking.")),
    ], [
        (("How was your day?", "Did your day go well?"),
         ("Pretty busy, spent all day working.", "It went well, I even had time for a walk.",
          "So-so, a bit tired but fine.")),
        (("What are you doing?", "What are you up to now?"),
         ("Tidying up at home.", "Just left work, on my way home.", "Watching a {genre}.")),
        (("Let's talk later.", "I'll let you go.", "I have to go now."),
         ("Sure, talk later.", "No problem, talk soon.", "Okay, see you.")),
        (("Good night", "I'm going to bed."),
         ("Good night, sleep well.", "Okay, good night. See you tomorrow.")),
    ]),
    "food": ([
        (("Have you had {meal}?", "Did you eat {meal} yet?"),
         ("Yes, I had {food}.", "Not yet, I'm about to.", "Just finished, I had {food}. It was good.")),
        (("What should we eat tonight?", "What do you want for {meal}?", "Where should we go for {meal}?", "What are you having for {meal}?", "Any ideas for {meal}?"),
         ("How about {food}? I haven't had it in a while.", "I feel like {food}, what do you think?",
          "Anything is fine. That place nearby does good {food}.")),
        (("Do you like {food}?", "Is {food} good?"),
         ("I like it, especially when it's cold outside.", "It's okay, I have it now and then.",
          "Yes, I eat it quite often.")),
    ], [
        (("Do you cook?", "Do you cook at home?"),
         ("A little, simple dishes are fine.", "On weekends I do, on weekdays I usually eat out.",
          "Not really, I can only boil noodles.")),
        (("Any good restaurants nearby?", "Can you recommend a place to eat?"),
         ("There's a place downstairs that does good {food}.", "Try the mall, there are lots of choices.")),
        (("Let's go together.", "Want to go together next time?"),
         ("Sure, let me know when.", "Okay, you pick the time.")),
        (("Are you full?", "How was the food?"),
         ("I'm full, it was pretty good.", "Really tasty, I'd go again.", "Average, a bit too salty.")),
    ]),
    "weather": ([
        (("How's the weather today?", "What's the weather like?", "Is the weather nice there?", "Is it raining there?", "Is it cold outside?", "Is it hot there?"),
         ("It's {weather} today, check the forecast before going out.", "It's {weather}, not too bad.",
          "It's {weather} here. How about there?")),
        (("Will it rain {day}?", "Is the weather good {day}?"),
         ("The forecast says it might rain {day}, take an umbrella.", "I heard it will be sunny {day}.",
          "Not sure, check the forecast before you go.")),
        (("It's so cold", "It's so hot today", "The weather keeps changing"),
         ("Yes, wear something warm.", "True, drink plenty of water.",
          "It's easy to catch a cold this season, take care.")),
    ], [
        (("Should I take an umbrella?", "Do I need a jacket?"),
         ("Take one, just in case.", "Better bring one, it gets cooler at night.")),
        (("What's good to do in this weather?", "Such nice weather, are you going out?"),
         ("Good for a walk, or reading at home.", "I plan to walk in the park this afternoon.")),
        (("What weather do you like?",),
         ("I like sunny days, not too hot or cold.", "I like rainy days, it's nice to stay in.")),
    ]),
    "work": ([
        (("Busy at work today?", "How's work?", "How is work going lately?", "Is work tiring?", "Busy day at the office?", "Is your job going well?"),
         ("Quite busy, working on {task} all day.", "Not bad, mostly {task} today.",
          "Busy lately, the project deadline is close.")),
        (("Are you working late today?", "Overtime tonight?"),
         ("No, I can leave on time today.", "Maybe {hours} extra hours.", "Not sure yet, depends on the work.")),
        (("Are you off work yet?", "When do you finish work?"),
         ("Just finished, heading home.", "Not yet, around six.", "I'm already home.")),
    ], [
        (("Are you tired?", "Is it hard?"),
         ("A bit tired, but fine.", "It's okay, I'm used to it.", "Quite tired, I want to rest early.")),
        (("How are your colleagues?", "Is your team nice?"),
         ("They are easy to work with.", "Everyone is professional, it goes smoothly.")),
        (("Is the work done?", "Did you finish it?"),
         ("Almost, the rest can wait until tomorrow.", "All done, finally I can relax.")),
        (("What's the plan for tomorrow?",),
         ("{task} in the morning, the afternoon is free.", "Still working on {task}, should not be too busy.")),
    ]),
    "weekend": ([
        (("Any plans for the weekend?", "What are you doing this weekend?", "Going anywhere this weekend?", "Any plans for Saturday?", "Free on Sunday?", "What will you do on your day off?"),
         ("I'm planning on {activity}.", "Not sure yet, maybe rest at home.",
          "Not sure yet, maybe {activity}.")),
        (("How was your weekend?", "What did you do last weekend?"),
         ("Relaxing, mostly {activity}.", "Not bad, I spent it on {activity}.",
          "Stayed home for two days, feel much better.")),
    ], [
        (("Going alone?", "Who are you going with?"),
         ("With a few friends.", "Alone, which is nice too.", "With my family.")),
        (("Can I join?", "Want to go together?"),
         ("Sure, let's go together.", "Of course, the more the better.")),
        (("What time are you leaving?", "When do we start?"),
         ("Around ten in the morning.", "Two in the afternoon, does that work?")),
        (("Any suggestions?",),
         ("Try {activity}, it's relaxing.", "If the weather is good, go for a walk.")),
    ]),
    "travel": ([
        (("Have you been to {city}?", "Is {city} fun?"),
         ("Once, {city} is a lot of fun.", "Not yet, I've always wanted to go.",
          "Yes, {spot} there is really interesting.")),
        (("Traveled anywhere lately?", "Where are you going this year?"),
         ("I plan to spend a few days in {city}.", "No time lately, maybe on the next holiday.",
          "I was in {city} last month.")),
        (("I'm going to {city} next week.", "I'm planning a trip to {city}."),
         ("Nice, you should visit {spot}.", "Great, take lots of photos.",
          "The {food} in {city} is famous, try it.")),
    ], [
        (("Any places you'd recommend?", "What is there to do?"),
         ("Visit {spot}, it's not too crowded.", "I'd recommend {spot}, the view is great.")),
        (("How do I get there?", "What's the easiest way to get there?"),
         ("The train is easiest, just a few hours.", "Fly, it saves time.")),
        (("How long are you staying?", "How many days?"),
         ("About {hours} days.", "Just a weekend, a bit short.")),
        (("Where should I stay?",),
         ("Stay in the city centre, it's convenient.", "Somewhere near {spot}.")),
    ]),
    "movies": ([
        (("Seen any good movies lately?", "Any movie recommendations?", "Watched anything recently?", "Any good films out?", "What did you watch last night?"),
         ("I watched a {genre} recently, it was good.", "Try a {genre}, it's relaxing.",
          "Not much lately, any suggestions?")),
        (("What movies do you like?", "What kind of films do you watch?"),
         ("I like a good {genre}.", "A bit of everything, but a good {genre} is my favourite.")),
        (("Want to see a movie this weekend?", "Shall we go to the cinema?"),
         ("Sure, what should we see?", "Okay, how about the evening show?", "Busy this week, maybe next week.")),
    ], [
        (("What is it about?", "How's the story?"),
         ("The plot is tight, no spoilers.", "A simple story, but well made.")),
        (("Was it good?", "Is it worth watching?"),
         ("Worth it, good pacing.", "It's okay, the ending felt rushed.", "Really good, I recommend it.")),
        (("Where did you watch it?",),
         ("At the cinema.", "At home on my laptop.")),
    ]),
    "pets": ([
        (("Do you have pets?", "Any pets at home?", "Do you have a {pet}?", "Do you keep any animals?"),
         ("I have a {pet} called {pet_name}.", "No, but I'd like a {pet}.", "A {pet}, three years old now.")),
        (("Is a {pet} a good pet?", "Is a {pet} easy to keep?"),
         ("Yes, they are lovely.", "It's fine, they just need time.", "Quite easy, just feed them on time.")),
    ], [
        (("What's its name?", "What do you call it?"),
         ("{pet_name}.", "It's called {pet_name}, my family chose it.")),
        (("Is it well behaved?", "Is it naughty?"),
         ("Mostly good, sometimes it makes a mess.", "Very calm and quiet.")),
        (("Who takes care of it?",),
         ("Mostly me, my family helps too.", "Me, I feed it morning and evening.")),
    ]),
    "study": ([
        (("What are you studying lately?", "What are you learning?", "What are you reading lately?", "How are your studies?"),
         ("I'm learning {subject}.", "{subject}, about {hours} hours a day.",
          "Preparing for exams, mostly {subject}.")),
        (("How is exam prep going?", "Do you have exams soon?"),
         ("Still reviewing, {subject} is hard.", "Almost ready.", "Exams next week, reviewing these days.")),
        (("Is {subject} hard?", "Is {subject} interesting?"),
         ("Hard at first, then it gets easier.", "Interesting, it just needs practice.",
          "It's fine if you keep at it.")),
    ], [
        (("Any study tips?", "How should I study?"),
         ("Study at a fixed time every day and practise a lot.", "Get the basics right first.")),
        (("How long have you been learning?",),
         ("About {hours} months.", "Just started, less than a month.")),
        (("Let's study together.", "Want to go to the library?"),
         ("Sure, the library tomorrow morning.", "Okay, we can keep each other going.")),
    ]),
}

TOPICS: tuple[str, ...] = tuple(ZH)
assert tuple(EN) == TOPICS


def _fill(template: str, slots: dict[str, str]) -> str:
    text = template.format(**slots)
    # English templates start some sentences with a slot ("{subject}, about…"): capitalise the first letter.
    return text[:1].upper() + text[1:] if text[:1].islower() else text


_ZH_LEADS = ("对了，", "话说，", "那", "请问", "嗯，", "哎，", "问一下，")
_EN_LEADS = ("So, ", "Hey, ", "By the way, ", "Just wondering, ", "Quick question: ", "Ok, ")


def _vary(rng: random.Random, lang: str, text: str) -> str:
    """Small surface changes to a user turn (a lead-in word, a softer question ending, no final mark)."""
    r = rng.random()
    if r < 0.2:
        if lang == "zh":
            return rng.choice(_ZH_LEADS) + text
        return rng.choice(_EN_LEADS) + (text[:1].lower() + text[1:] if not text.startswith("I ") else text)
    if r < 0.3 and lang == "zh" and text.endswith("吗？"):
        return text[:-1] + "呀？"
    if r < 0.4 and text[-1:] in "？?。.!！":
        return text[:-1]
    return text


def _conversation(rng: random.Random, lang: str, topic: str) -> list[dict[str, str]]:
    table, slot_values = (ZH, ZH_SLOTS) if lang == "zh" else (EN, EN_SLOTS)
    slots = {k: rng.choice(v) for k, v in slot_values.items()}
    openers, follow_ups = table[topic]
    n = rng.choices((1, 2, 3), weights=(4, 4, 3))[0]
    exchanges = [rng.choice(openers)] + rng.sample(follow_ups, min(n - 1, len(follow_ups)))
    if topic != "greetings" and rng.random() < 0.15:  # sometimes a hello first, as real chats do
        exchanges = [rng.choice(table["greetings"][0])] + exchanges[:2]
    conv: list[dict[str, str]] = []
    for users, replies in exchanges:
        conv.append({"role": "user", "content": _vary(rng, lang, _fill(rng.choice(users), slots))})
        conv.append({"role": "assistant", "content": _fill(rng.choice(replies), slots)})
    return conv


def generic_conversations(n: int = 3000, seed: int = 0) -> list[list[dict[str, str]]]:
    """`n` small-talk conversations (half Chinese, half English), 1-3 user/assistant exchanges each."""
    rng = random.Random(seed)
    return [_conversation(rng, rng.choice(("zh", "en")), rng.choice(TOPICS)) for _ in range(n)]


def _check_no_markers() -> None:
    """Fail loudly if someone adds a persona marker to a template (cheap: runs once at import)."""
    for table in (ZH, EN):
        for openers, follow_ups in table.values():
            for users, replies in openers + follow_ups:
                for text in users + replies:
                    bad = [m for m in PERSONA_MARKERS if m in text]
                    assert not bad, f"generic corpus template uses persona marker {bad}: {text!r}"
    for slot_values in (ZH_SLOTS, EN_SLOTS):
        for values in slot_values.values():
            assert not any(m in v for v in values for m in PERSONA_MARKERS)


_check_no_markers()
